package ollamasim_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestCORS: Ollama's gin-contrib/cors policy. A localhost origin gets its
// origin back and Vary: Origin; a preflight is 204 with the policy's
// headers; a foreign origin is 403 with no body; a request without Origin
// is untouched.
func TestCORS(t *testing.T) {
	ts := httptest.NewServer(newInstantModels(t, "tiny"))
	defer ts.Close()
	do := func(method, path, origin string) (*http.Response, string) {
		req, _ := http.NewRequest(method, ts.URL+path, nil)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 512)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return resp, b.String()
	}
	resp, body := do("OPTIONS", "/api/chat", "http://localhost:3000")
	h := resp.Header
	if resp.StatusCode != 204 || body != "" || h.Get("Access-Control-Allow-Origin") != "http://localhost:3000" ||
		h.Get("Access-Control-Max-Age") != "43200" || h.Get("Access-Control-Allow-Methods") != "GET,POST,PUT,PATCH,DELETE,HEAD,OPTIONS" ||
		!strings.HasPrefix(h.Get("Access-Control-Allow-Headers"), "Authorization,Content-Type,") || h.Get("Allow") != "POST" ||
		strings.Join(h.Values("Vary"), ", ") != "Origin, Access-Control-Request-Method, Access-Control-Request-Headers" {
		t.Errorf("preflight: %d %q %v", resp.StatusCode, body, h)
	}
	for _, o := range []string{"http://127.0.0.1:8080", "https://localhost", "vscode-webview://abc", "app://x"} {
		if resp, _ := do("GET", "/api/version", o); resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != o || resp.Header.Get("Vary") != "Origin" {
			t.Errorf("origin %s: %d %v", o, resp.StatusCode, resp.Header)
		}
	}
	for _, o := range []string{"http://example.com", "http://localhost.evil.com", "HTTP://LOCALHOST"} {
		if resp, body := do("GET", "/api/version", o); resp.StatusCode != 403 || body != "" || resp.Header.Get("Content-Type") != "" {
			t.Errorf("origin %s: %d %q %v", o, resp.StatusCode, body, resp.Header)
		}
	}
	if resp, _ := do("GET", "/api/version", ""); resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.Header.Get("Vary") != "" {
		t.Errorf("no Origin: %v", resp.Header)
	}
}

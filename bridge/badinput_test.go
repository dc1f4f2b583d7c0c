package bridge_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingUpstream is an in-process Ollama stand-in that lists the model
// "tiny" and counts every request other than the bridge's own polls, so a
// test can prove that bad input never reached it.
func countingUpstream(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/ps", "/api/tags":
			_, _ = io.WriteString(w, `{"models":[{"name":"tiny:latest","model":"tiny:latest"}]}`)
			return
		}
		n.Add(1)
		_, _ = io.WriteString(w, `{"done":true}`)
	}))
	t.Cleanup(s.Close)
	return s, &n
}

// Bad input gets a clear error with the right status, reaches no upstream
// and takes nothing down.
func TestBadInputReachesNoUpstream(t *testing.T) {
	t.Parallel()
	up, calls := countingUpstream(t)
	br, _ := startBridge(t, upstreamsYAML([]string{up.URL})+"server: {max_body_bytes: 1024}\n")
	tests := []struct {
		name, method, path, body string
		code                     int
		want                     string // substring of the answer
	}{
		// Truncated JSON: Go's decoder message, as Ollama answers (transcript 61).
		{"malformed", "POST", "/api/chat", `{"model":"tiny","messages":[`, 400, `{"error":"unexpected EOF"}`},
		// Not JSON at all.
		{"garbage", "POST", "/api/generate", `hello`, 400, `"error":"invalid character`},
		// Empty body: Ollama's message (transcript 62).
		{"empty", "POST", "/api/chat", ``, 400, `{"error":"missing request body"}`},
		// An array instead of an object.
		{"array", "POST", "/api/embed", `[1]`, 400, `must be a JSON object`},
		// No model.
		{"no model", "POST", "/api/chat", `{"messages":[]}`, 400, `{"error":"model is required"}`},
		// Unknown model: Ollama's 404 (transcript 60).
		{"unknown model", "POST", "/api/chat", `{"model":"nope"}`, 404, `{"error":"model 'nope' not found"}`},
		// Unknown model on /v1: OpenAI's error form.
		{"unknown model v1", "POST", "/v1/chat/completions", `{"model":"nope","messages":[]}`, 404,
			`{"error":{"message":"model 'nope' not found","type":"api_error","param":null,"code":null}}`},
		// Malformed JSON on /v1: OpenAI's form, invalid_request_error.
		{"malformed v1", "POST", "/v1/embeddings", `{`, 400, `"type":"invalid_request_error"`},
		// Over server.max_body_bytes.
		{"too large", "POST", "/api/chat", `{"model":"tiny","prompt":"` + strings.Repeat("x", 2000) + `"}`, 413, `request body too large`},
		// Wrong method, with an Allow header (checked below).
		{"wrong method", "GET", "/api/chat", ``, 405, `not allowed`},
		// Unknown path.
		{"unknown path", "POST", "/api/nope", `{}`, 404, `"error":"404 page not found`},
		// Management call with no admin token configured.
		{"pull refused", "POST", "/api/pull", `{"model":"tiny"}`, 403, `admin_token`},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, br.URL+tt.path, strings.NewReader(tt.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.code || !strings.Contains(string(b), tt.want) {
			t.Errorf("%s: %d %s; want %d containing %s", tt.name, resp.StatusCode, b, tt.code, tt.want)
		}
		if tt.code == 405 && resp.Header.Get("Allow") != "POST" {
			t.Errorf("%s: Allow %q; want POST", tt.name, resp.Header.Get("Allow"))
		}
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("bad input reached the upstream %d times", n)
	}
	// And the bridge still serves good input.
	code, body, err := post(t, http.DefaultClient, br.URL+"/api/chat", `{"model":"tiny","stream":false}`)
	if err != nil || code != 200 || calls.Load() != 1 {
		t.Errorf("good request after bad ones: %d %v %s (upstream calls %d)", code, err, body, calls.Load())
	}
}

// Slow clients are cut: headers not complete within read_header_timeout,
// or a body not complete within read_body_timeout (slowloris).
func TestSlowlorisIsCut(t *testing.T) {
	t.Parallel()
	up, calls := countingUpstream(t)
	br, _ := startBridge(t, upstreamsYAML([]string{up.URL})+
		"server: {read_header_timeout: 300ms, read_body_timeout: 300ms}\n")
	tests := []struct {
		name, send string
	}{
		// Headers trickle and never end.
		{"headers", "POST /api/chat HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n"},
		// Headers complete, body promised and never sent in full.
		{"body", "POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"model\":"},
	}
	for _, tt := range tests {
		conn, err := net.Dial("tcp", br.Addr)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(conn, tt.send)
		start := time.Now()
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = io.ReadAll(conn) // returns when the bridge closes the connection
		conn.Close()
		if took := time.Since(start); err != nil || took > 5*time.Second {
			t.Errorf("%s: connection held %v (err %v); want it cut after ~300ms", tt.name, took, err)
		}
	}
	if calls.Load() != 0 {
		t.Errorf("slow requests reached the upstream")
	}
}

// The ollama CLI's `show` sends {"name":…} with no "model" (ollama v0.17.4
// cmd/cmd.go), and Ollama's /api/show accepts it: so must the bridge, or
// `ollama show` through it fails with "model is required". Found by
// e2e/realollama.
func TestShowAcceptsDeprecatedName(t *testing.T) {
	t.Parallel()
	up, calls := countingUpstream(t)
	br, _ := startBridge(t, upstreamsYAML([]string{up.URL}))
	resp, err := http.Post(br.URL+"/api/show", "application/json", strings.NewReader(`{"name":"tiny"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || calls.Load() != 1 {
		t.Errorf(`POST /api/show {"name":"tiny"}: %s, %d upstream calls; want 200 and 1`, resp.Status, calls.Load())
	}
}

package ollamasim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ollama/ollama/api"
)

// TestCopyDelete: /api/copy makes the destination the newest model, served
// like its source; /api/delete removes it; both answer 200 with no body
// and no Content-Type, and Ollama's exact not-found texts.
func TestCopyDelete(t *testing.T) {
	ts := httptest.NewServer(newInstantModels(t, "tiny"))
	defer ts.Close()
	del := func(body string) (int, http.Header, string) {
		req, _ := http.NewRequest("DELETE", ts.URL+"/api/delete", strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	code, h, b := post(t, ts.URL+"/api/copy", `{"source":"tiny","destination":"tiny-copy"}`)
	if code != 200 || len(b) != 0 || h.Get("Content-Type") != "" {
		t.Fatalf("copy: %d %v %q", code, h, b)
	}
	_, b = get(t, ts.URL+"/api/tags")
	var tags api.ListResponse
	if err := json.Unmarshal(b, &tags); err != nil || len(tags.Models) != 2 || tags.Models[0].Name != "tiny-copy:latest" ||
		tags.Models[0].Digest != tags.Models[1].Digest || tags.Models[0].Details.ParameterSize != "187K" {
		t.Fatalf("tags after copy: %s", b)
	}
	if code, _, b := post(t, ts.URL+"/api/chat", `{"model":"tiny-copy","messages":[{"role":"user","content":"hi"}],"stream":false,"options":{"num_predict":3}}`); code != 200 {
		t.Fatalf("chat with the copy: %d %s", code, b)
	}
	if code, h, b := del(`{"model":"tiny-copy"}`); code != 200 || b != "" || h.Get("Content-Type") != "" {
		t.Fatalf("delete: %d %v %q", code, h, b)
	}
	if code, _, b := del(`{"model":"tiny-copy"}`); code != 404 || b != `{"error":"model 'tiny-copy' not found"}` {
		t.Fatalf("delete again: %d %s", code, b)
	}
	if code, _, b := post(t, ts.URL+"/api/copy", `{"source":"nope","destination":"x"}`); code != 404 || string(b) != `{"error":"model \"nope\" not found"}` {
		t.Fatalf("copy unknown: %d %s", code, b)
	}
	if code, _, b := post(t, ts.URL+"/api/chat", `{"model":"tiny-copy","messages":[{"role":"user","content":"hi"}]}`); code != 404 {
		t.Fatalf("chat with the deleted copy: %d %s", code, b)
	}
	_, b = get(t, ts.URL+"/api/ps")
	if strings.Contains(string(b), "tiny-copy") {
		t.Fatalf("ps lists a deleted model: %s", b)
	}
}

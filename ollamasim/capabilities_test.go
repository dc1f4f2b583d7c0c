package ollamasim_test

import (
	"net/http/httptest"
	"testing"
)

// TestCapabilities: asking a model for a capability its description lacks
// is Ollama's 400, with its exact text: tools from scheduleRunner's
// CheckCapabilities (the full name), thinking from ChatHandler (the name as
// asked); on /v1 in the OpenAI error form.
func TestCapabilities(t *testing.T) {
	ts := httptest.NewServer(newInstantModels(t, "tiny"))
	defer ts.Close()
	const msgs = `"messages":[{"role":"user","content":"hi"}]`
	for _, c := range []struct{ path, body, want string }{
		{"/api/chat", `{"model":"tiny",` + msgs + `,"tools":[{"type":"function","function":{"name":"f"}}]}`, `{"error":"registry.ollama.ai/library/tiny:latest does not support tools"}`},
		{"/api/chat", `{"model":"tiny",` + msgs + `,"think":true}`, `{"error":"\"tiny\" does not support thinking"}`},
		{"/api/generate", `{"model":"tiny","prompt":"hi","think":true}`, `{"error":"\"tiny\" does not support thinking"}`},
		{"/v1/chat/completions", `{"model":"tiny",` + msgs + `,"tools":[{"type":"function","function":{"name":"f"}}]}`, `{"error":{"message":"registry.ollama.ai/library/tiny:latest does not support tools","type":"api_error","param":null,"code":null}}` + "\n"},
	} {
		code, _, b := post(t, ts.URL+c.path, c.body)
		if code != 400 || string(b) != c.want {
			t.Errorf("%s %s: %d %s, want 400 %s", c.path, c.body, code, b, c.want)
		}
	}
}

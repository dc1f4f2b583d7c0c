package ollamasim_test

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// TestThinking: a thinking-capable model (deepseek-r1) thinks by default,
// as Ollama v0.17.4 sets think=true for it: reasoning streams in
// "thinking" with empty "content", then the answer; think:false turns it
// off; asking a model without the capability is a 400.
func TestThinking(t *testing.T) {
	ts := httptest.NewServer(newInstant(t))
	defer ts.Close()
	_, _, b := post(t, ts.URL+"/api/chat", `{"model":"deepseek-r1:7b","messages":[{"role":"user","content":"hi"}],"options":{"num_predict":9}}`)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 10 {
		t.Fatalf("%d lines", len(lines))
	}
	first, fourth := mustJSON(t, []byte(lines[0]))["message"].(map[string]any), mustJSON(t, []byte(lines[3]))["message"].(map[string]any)
	if first["thinking"] == nil || first["content"] != "" || fourth["thinking"] != nil || fourth["content"] == "" {
		t.Fatalf("first %v, fourth %v; want 3 thinking chunks then content", first, fourth)
	}
	_, _, b = post(t, ts.URL+"/api/chat", `{"model":"deepseek-r1:7b","messages":[{"role":"user","content":"hi"}],"stream":false,"think":false,"options":{"num_predict":9}}`)
	if m := mustJSON(t, b)["message"].(map[string]any); m["thinking"] != nil {
		t.Fatalf("think:false still thinks: %s", b)
	}
	_, _, b = post(t, ts.URL+"/v1/chat/completions", `{"model":"deepseek-r1:7b","messages":[{"role":"user","content":"hi"}],"max_tokens":9}`)
	if !strings.Contains(string(b), `"reasoning":"`) {
		t.Fatalf("OpenAI answer without reasoning: %s", b)
	}
	code, _, b := post(t, ts.URL+"/api/chat", `{"model":"llama3.2:3b","messages":[{"role":"user","content":"hi"}],"think":true}`)
	if code != 400 || string(b) != `{"error":"\"llama3.2:3b\" does not support thinking"}` {
		t.Fatalf("%d %s", code, b)
	}
}

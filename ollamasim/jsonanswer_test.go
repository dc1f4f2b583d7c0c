package ollamasim_test

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
)

// TestStructuredOutput: with format json or a schema, the answer is a JSON
// value that closes by itself (done_reason stop) within num_predict, with
// the schema's fields; a num_predict too small for any object cuts it.
func TestStructuredOutput(t *testing.T) {
	ts := httptest.NewServer(newInstantModels(t, "tiny"))
	defer ts.Close()
	const msgs = `"messages":[{"role":"user","content":"Why is the sky blue?"}]`
	for _, c := range []struct {
		format string
		n      int
		keys   []string
	}{
		{`"json"`, 8, []string{"answer"}},
		{`"json"`, 0, []string{"answer"}},
		{`{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},"ok":{"type":"boolean"},"tags":{"type":"array"}}}`, 30, []string{"name", "age", "ok", "tags"}},
		{`{"type":"object","properties":{}}`, 5, nil},
	} {
		code, _, b := post(t, ts.URL+"/api/chat", `{"model":"tiny",`+msgs+`,"format":`+c.format+`,"stream":false,"options":{"num_predict":`+itoa(c.n)+`}}`)
		var resp struct {
			Message    struct{ Content string }
			DoneReason string `json:"done_reason"`
			EvalCount  int    `json:"eval_count"`
		}
		if code != 200 || json.Unmarshal(b, &resp) != nil {
			t.Fatalf("%s: %d %s", c.format, code, b)
		}
		var obj map[string]any
		if err := json.Unmarshal([]byte(resp.Message.Content), &obj); err != nil {
			t.Errorf("%s: content %q is not a JSON object: %v", c.format, resp.Message.Content, err)
		}
		if resp.DoneReason != "stop" || (c.n > 0 && resp.EvalCount >= c.n) {
			t.Errorf("%s: done_reason %s, eval_count %d, num_predict %d", c.format, resp.DoneReason, resp.EvalCount, c.n)
		}
		for _, k := range c.keys {
			if _, ok := obj[k]; !ok {
				t.Errorf("%s: no field %s in %s", c.format, k, resp.Message.Content)
			}
		}
	}
	_, _, b := post(t, ts.URL+"/api/chat", `{"model":"tiny",`+msgs+`,"format":"json","stream":false,"options":{"num_predict":3}}`)
	if m := mustJSON(t, b); m["done_reason"] != "length" || m["eval_count"] != 3.0 {
		t.Errorf("num_predict 3: %s", b)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

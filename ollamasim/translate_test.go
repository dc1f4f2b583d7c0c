package ollamasim_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
)

// TestResponsesAPI: /v1/responses with the official OpenAI client, not
// streamed and streamed: Ollama's ResponsesStreamConverter events around
// the simulator's chat.
func TestResponsesAPI(t *testing.T) {
	ts := httptest.NewServer(newInstantModels(t, "tiny"))
	defer ts.Close()
	c := openai.NewClient(option.WithBaseURL(ts.URL+"/v1"), option.WithAPIKey("ollama"))
	ctx := context.Background()
	params := responses.ResponseNewParams{Model: "tiny", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Why is the sky blue?")}, MaxOutputTokens: openai.Int(8)}
	r, err := c.Responses.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != "completed" || r.OutputText() == "" || r.Usage.OutputTokens != 8 || !strings.HasPrefix(r.ID, "resp_") {
		t.Fatalf("response %+v", r)
	}
	st := c.Responses.NewStreaming(ctx, params)
	var types []string
	var text strings.Builder
	for st.Next() {
		e := st.Current()
		types = append(types, e.Type)
		if e.Type == "response.output_text.delta" {
			text.WriteString(e.Delta)
		}
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	// created, in_progress, item added, part added, 8 deltas, text done,
	// part done, item done, completed: 16, as real Ollama sent.
	if len(types) != 16 || types[0] != "response.created" || types[15] != "response.completed" || text.String() != r.OutputText() {
		t.Fatalf("events %v, text %q vs %q", types, text.String(), r.OutputText())
	}
}

// TestAnthropicMessages: /v1/messages answers Anthropic's shapes, its
// errors in Anthropic's error form, and relaxes think on a model without
// thinking instead of refusing it.
func TestAnthropicMessages(t *testing.T) {
	ts := httptest.NewServer(newInstantModels(t, "tiny"))
	defer ts.Close()
	const msgs = `"messages":[{"role":"user","content":"Why is the sky blue?"}]`
	code, h, b := post(t, ts.URL+"/v1/messages", `{"model":"tiny",`+msgs+`,"max_tokens":8}`)
	m := mustJSON(t, b)
	if code != 200 || h.Get("Content-Type") != "application/json" || m["type"] != "message" || m["stop_reason"] != "max_tokens" {
		t.Fatalf("%d %v %s", code, h, b)
	}
	code, h, b = post(t, ts.URL+"/v1/messages", `{"model":"tiny",`+msgs+`,"max_tokens":8,"stream":true}`)
	events := strings.Count(string(b), "event: ")
	if code != 200 || h.Get("Content-Type") != "text/event-stream" || h.Get("Cache-Control") != "no-cache" || events != 13 ||
		!strings.HasPrefix(string(b), "event: message_start\n") || !strings.HasSuffix(string(b), "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n") {
		t.Fatalf("%d %v %d events:\n%s", code, h, events, b)
	}
	code, _, b = post(t, ts.URL+"/v1/messages", `{"model":"tiny",`+msgs+`,"max_tokens":4,"thinking":{"type":"enabled","budget_tokens":100}}`)
	if code != 200 {
		t.Fatalf("thinking on a model without it: %d %s", code, b)
	}
	for _, c := range []struct {
		body string
		code int
		typ  string
	}{
		{`{"model":"nope",` + msgs + `,"max_tokens":8}`, 404, "not_found_error"},
		{`{"model":"tiny",` + msgs + `}`, 400, "invalid_request_error"},
		{`{"model":"tiny","max_tokens":8}`, 400, "invalid_request_error"},
	} {
		code, _, b := post(t, ts.URL+"/v1/messages", c.body)
		e, _ := mustJSON(t, b)["error"].(map[string]any)
		if code != c.code || e == nil || e["type"] != c.typ {
			t.Errorf("%s: %d %s", c.body, code, b)
		}
	}
}

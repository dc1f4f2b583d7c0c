package bridge_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// The official Ollama Go client works through the bridge for every client
// endpoint, over a fleet where each instance has a different model set:
// lists are the union, each model once, and requests reach an instance that
// has the model.
func TestOllamaClientThroughBridge(t *testing.T) {
	t.Parallel()
	a := startSim(t, "--models", "tiny,llama3.2:3b")
	b := startSim(t, "--models", "tiny,qwen2:0.5b")
	br, _ := startBridge(t, upstreamsYAML([]string{a.URL, b.URL}))
	u, _ := url.Parse(br.URL)
	c := api.NewClient(u, http.DefaultClient)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	if err := c.Heartbeat(ctx); err != nil {
		t.Errorf("Heartbeat (HEAD /): %v", err)
	}
	if v, err := c.Version(ctx); err != nil || v == "" {
		t.Errorf("Version = %q, %v", v, err)
	}
	list, err := c.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	names := map[string]int{}
	for _, m := range list.Models {
		names[m.Name]++
	}
	for _, want := range []string{"tiny:latest", "llama3.2:3b", "qwen2:0.5b"} {
		if names[want] != 1 {
			t.Errorf("List: %s appears %d times; want once (union over the fleet): %v", want, names[want], names)
		}
	}
	// A model only one instance has is routed there, from either name form.
	for _, model := range []string{"llama3.2:3b", "qwen2:0.5b", "tiny"} {
		var out strings.Builder
		var final api.ChatResponse
		err := c.Chat(ctx, &api.ChatRequest{Model: model, Messages: []api.Message{{Role: "user", Content: "hi"}},
			Options: map[string]any{"num_predict": 5}}, func(r api.ChatResponse) error {
			out.WriteString(r.Message.Content)
			final = r
			return nil
		})
		if err != nil || !final.Done || out.Len() == 0 {
			t.Errorf("Chat %s: err %v done %v text %q", model, err, final.Done, out.String())
		}
	}
	stream := false
	var gen api.GenerateResponse
	if err := c.Generate(ctx, &api.GenerateRequest{Model: "tiny", Prompt: "hi", Stream: &stream,
		Options: map[string]any{"num_predict": 3}}, func(r api.GenerateResponse) error { gen = r; return nil }); err != nil || !gen.Done {
		t.Errorf("Generate: %v %+v", err, gen)
	}
	chunks := 0
	if err := c.Generate(ctx, &api.GenerateRequest{Model: "tiny", Prompt: "hi", Options: map[string]any{"num_predict": 4}},
		func(r api.GenerateResponse) error { chunks++; return nil }); err != nil || chunks < 2 {
		t.Errorf("Generate streamed: %v, %d chunks", err, chunks)
	}
	if e, err := c.Embed(ctx, &api.EmbedRequest{Model: "tiny", Input: "hi"}); err != nil || len(e.Embeddings) != 1 {
		t.Errorf("Embed: %v", err)
	}
	if e, err := c.Embeddings(ctx, &api.EmbeddingRequest{Model: "tiny", Prompt: "hi"}); err != nil || len(e.Embedding) == 0 {
		t.Errorf("Embeddings: %v", err)
	}
	if s, err := c.Show(ctx, &api.ShowRequest{Model: "qwen2:0.5b"}); err != nil || s.Details.Format == "" {
		t.Errorf("Show: %v %+v", err, s)
	}
	if _, err := c.ListRunning(ctx); err != nil {
		t.Errorf("ListRunning: %v", err)
	}
	// An unknown model is Ollama's own 404, not a 502.
	err = c.Chat(ctx, &api.ChatRequest{Model: "nosuchmodel", Messages: []api.Message{{Role: "user", Content: "hi"}}},
		func(api.ChatResponse) error { return nil })
	var se api.StatusError
	if !errors.As(err, &se) || se.StatusCode != 404 || se.ErrorMessage != "model 'nosuchmodel' not found" {
		t.Errorf("unknown model: %v; want 404 model 'nosuchmodel' not found", err)
	}
}

// The official OpenAI Go SDK works through the bridge's /v1 endpoints.
func TestOpenAIClientThroughBridge(t *testing.T) {
	t.Parallel()
	a := startSim(t)
	b := startSim(t, "--models", "tiny,llama3.2:3b")
	br, _ := startBridge(t, upstreamsYAML([]string{a.URL, b.URL}))
	c := openai.NewClient(option.WithBaseURL(br.URL+"/v1/"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	msgs := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}
	cc, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "llama3.2:3b", Messages: msgs, MaxTokens: openai.Int(5)})
	if err != nil || len(cc.Choices) != 1 || cc.Choices[0].Message.Content == "" {
		t.Fatalf("chat completion: %v %+v", err, cc)
	}
	st := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "tiny", Messages: msgs, MaxTokens: openai.Int(5)})
	var text strings.Builder
	for st.Next() {
		for _, ch := range st.Current().Choices {
			text.WriteString(ch.Delta.Content)
		}
	}
	if err := st.Err(); err != nil || text.Len() == 0 {
		t.Errorf("streamed chat completion: %v, text %q", err, text.String())
	}
	comp, err := c.Completions.New(ctx, openai.CompletionNewParams{Model: "tiny", MaxTokens: openai.Int(3),
		Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("hi")}})
	if err != nil || len(comp.Choices) != 1 {
		t.Errorf("completion: %v %+v", err, comp)
	}
	emb, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "tiny",
		Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hi")}})
	if err != nil || len(emb.Data) != 1 || len(emb.Data[0].Embedding) == 0 {
		t.Errorf("embeddings: %v", err)
	}
	page, err := c.Models.List(ctx)
	if err != nil {
		t.Fatalf("models: %v", err)
	}
	ids := map[string]int{}
	for _, m := range page.Data {
		ids[m.ID]++
	}
	if ids["tiny:latest"] != 1 || ids["llama3.2:3b"] != 1 {
		t.Errorf("models: %v; want tiny:latest and llama3.2:3b once each", ids)
	}
	if m, err := c.Models.Get(ctx, "llama3.2:3b"); err != nil || m.ID != "llama3.2:3b" {
		t.Errorf("model: %v %+v", err, m)
	}
	_, err = c.Models.Get(ctx, "nosuchmodel")
	var oe *openai.Error
	if !errors.As(err, &oe) || oe.StatusCode != 404 {
		t.Errorf("unknown model: %v; want an OpenAI 404", err)
	}
	_, err = c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "nosuchmodel", Messages: msgs})
	if !errors.As(err, &oe) || oe.StatusCode != 404 || !strings.Contains(oe.Message, "model 'nosuchmodel' not found") {
		t.Errorf("unknown model chat: %v; want an OpenAI 404", err)
	}
}

// fakeManaged is an in-process Ollama stand-in for management calls, which
// the simulator does not implement: it lists no models and streams pull
// progress, counting the calls it gets.
func fakeManaged(t *testing.T, calls *atomic.Int64) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/ps", "/api/tags":
			_, _ = io.WriteString(w, `{"models":[]}`)
		case "/api/pull":
			calls.Add(1)
			if r.Header.Get("Authorization") != "" {
				http.Error(w, `{"error":"token leaked upstream"}`, 400)
				return
			}
			w.Header().Set("Content-Type", "application/x-ndjson")
			_, _ = io.WriteString(w, `{"status":"pulling manifest"}`+"\n")
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, `{"status":"success"}`+"\n")
		case "/api/delete":
			calls.Add(1)
			w.WriteHeader(200)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// bearer adds the admin token to every request of the Ollama client.
type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

// Management calls are refused without an admin token, and with one they
// fan out to every instance with progress streamed back.
func TestManagementCalls(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	f1, f2 := fakeManaged(t, &calls), fakeManaged(t, &calls)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	open, _ := startBridge(t, upstreamsYAML([]string{f1.URL, f2.URL}))
	u, _ := url.Parse(open.URL)
	err := api.NewClient(u, http.DefaultClient).Pull(ctx, &api.PullRequest{Model: "tiny"}, func(api.ProgressResponse) error { return nil })
	var se api.StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusForbidden {
		t.Errorf("pull without admin token: %v; want 403", err)
	}

	guarded, _ := startBridge(t, upstreamsYAML([]string{f1.URL, f2.URL})+"admin_token: s3cret\n")
	u, _ = url.Parse(guarded.URL)
	err = api.NewClient(u, http.DefaultClient).Pull(ctx, &api.PullRequest{Model: "tiny"}, func(api.ProgressResponse) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "401") { // the client has its own type for 401
		t.Errorf("pull with no token presented: %v; want 401", err)
	}
	if calls.Load() != 0 {
		t.Fatalf("refused calls reached upstreams: %d", calls.Load())
	}
	c := api.NewClient(u, &http.Client{Transport: bearer{"s3cret"}})
	var statuses []string
	if err := c.Pull(ctx, &api.PullRequest{Model: "tiny"}, func(p api.ProgressResponse) error {
		statuses = append(statuses, p.Status)
		return nil
	}); err != nil {
		t.Fatalf("pull with token: %v", err)
	}
	if len(statuses) != 4 || calls.Load() != 2 {
		t.Errorf("pull progress %q from %d upstreams; want 2 lines from each of 2", statuses, calls.Load())
	}
	if err := c.Delete(ctx, &api.DeleteRequest{Model: "tiny"}); err != nil || calls.Load() != 4 {
		t.Errorf("delete: %v, calls %d", err, calls.Load())
	}
}

package compat_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
	openai "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/dsbridge/dsbridge/internal/testproc"
)

// startSim runs a real `dsbridge sim` on a free loopback port.
func startSim(t testing.TB, args ...string) *testproc.Proc {
	t.Helper()
	return testproc.Start(t, "sim", "/", args...)
}

// TestOllamaClient drives a real simulator process with Ollama's own Go
// client: if the client can't tell, neither can the tools built on it.
func TestOllamaClient(t *testing.T) {
	p := startSim(t, "--profile", "instant", "--models", "deepseek-r1:7b,llama3.2:3b")
	u, _ := url.Parse(p.URL)
	c := api.NewClient(u, http.DefaultClient)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const model = "llama3.2:3b"
	f := false

	t.Run("version", func(t *testing.T) {
		v, err := c.Version(ctx)
		if err != nil || v != "0.17.4" {
			t.Fatalf("version %q, %v", v, err)
		}
	})
	t.Run("list", func(t *testing.T) {
		l, err := c.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Models) != 2 || l.Models[0].Name != "deepseek-r1:7b" {
			t.Fatalf("models %+v; want deepseek-r1:7b first", l.Models)
		}
	})
	t.Run("chat streamed", func(t *testing.T) {
		var parts []string
		var last api.ChatResponse
		err := c.Chat(ctx, &api.ChatRequest{Model: model, Messages: []api.Message{{Role: "user", Content: "Why is the sky blue?"}},
			Options: map[string]any{"num_predict": 12}}, func(r api.ChatResponse) error {
			parts = append(parts, r.Message.Content)
			last = r
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(parts) != 13 || !last.Done || last.DoneReason != "length" || last.EvalCount != 12 || last.PromptEvalCount == 0 {
			t.Fatalf("%d parts, last %+v", len(parts), last)
		}
	})
	t.Run("chat not streamed is the same text", func(t *testing.T) {
		var streamed strings.Builder
		req := &api.ChatRequest{Model: model, Messages: []api.Message{{Role: "user", Content: "Same question"}}, Options: map[string]any{"num_predict": 10}}
		if err := c.Chat(ctx, req, func(r api.ChatResponse) error { streamed.WriteString(r.Message.Content); return nil }); err != nil {
			t.Fatal(err)
		}
		req.Stream = &f
		var whole api.ChatResponse
		n := 0
		if err := c.Chat(ctx, req, func(r api.ChatResponse) error { whole = r; n++; return nil }); err != nil {
			t.Fatal(err)
		}
		if n != 1 || whole.Message.Content != streamed.String() || whole.EvalCount != 10 {
			t.Fatalf("non-streamed %q (%d callbacks), streamed %q", whole.Message.Content, n, streamed.String())
		}
	})
	t.Run("generate", func(t *testing.T) {
		var last api.GenerateResponse
		n := 0
		err := c.Generate(ctx, &api.GenerateRequest{Model: model, Prompt: "Once upon a time", Options: map[string]any{"num_predict": 5}},
			func(r api.GenerateResponse) error { last = r; n++; return nil })
		if err != nil {
			t.Fatal(err)
		}
		if n != 6 || !last.Done || len(last.Context) != last.PromptEvalCount+last.EvalCount {
			t.Fatalf("%d callbacks, last %+v", n, last)
		}
		err = c.Generate(ctx, &api.GenerateRequest{Model: model, Prompt: "raw", Raw: true, Stream: &f, Options: map[string]any{"num_predict": 3}},
			func(r api.GenerateResponse) error { last = r; return nil })
		if err != nil || last.Context != nil || last.EvalCount != 3 || last.Response == "" {
			t.Fatalf("raw generate %+v, %v", last, err)
		}
	})
	t.Run("embed", func(t *testing.T) {
		r, err := c.Embed(ctx, &api.EmbedRequest{Model: model, Input: []string{"a", "b"}, Dimensions: 16})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Embeddings) != 2 || len(r.Embeddings[0]) != 16 {
			t.Fatalf("embeddings %d × %d", len(r.Embeddings), len(r.Embeddings[0]))
		}
		var sum float64
		for _, v := range r.Embeddings[0] {
			sum += float64(v) * float64(v)
		}
		if sum < 0.999 || sum > 1.001 {
			t.Fatalf("not L2-normalised: |v|² = %v", sum)
		}
		again, _ := c.Embed(ctx, &api.EmbedRequest{Model: model, Input: "a", Dimensions: 16})
		if again.Embeddings[0][3] != r.Embeddings[0][3] {
			t.Fatal("embedding of the same input differs")
		}
		legacy, err := c.Embeddings(ctx, &api.EmbeddingRequest{Model: model, Prompt: "a"})
		if err != nil || len(legacy.Embedding) != 3072 {
			t.Fatalf("legacy embedding: %d values, %v", len(legacy.Embedding), err)
		}
	})
	t.Run("ps", func(t *testing.T) {
		r, err := c.ListRunning(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Models) != 1 || r.Models[0].Name != model || time.Until(r.Models[0].ExpiresAt) < 4*time.Minute {
			t.Fatalf("ps %+v", r.Models)
		}
	})
	t.Run("show", func(t *testing.T) {
		r, err := c.Show(ctx, &api.ShowRequest{Model: model})
		if err != nil || r.Details.Format != "gguf" || r.ModelInfo["general.architecture"] != "llama" {
			t.Fatalf("show %+v, %v", r.Details, err)
		}
		_, err = c.Show(ctx, &api.ShowRequest{Model: "nope"})
		if se, ok := err.(api.StatusError); !ok || se.StatusCode != 404 || se.ErrorMessage != "model 'nope' not found" {
			t.Fatalf("show unknown: %#v", err)
		}
	})
	t.Run("unknown model", func(t *testing.T) {
		err := c.Chat(ctx, &api.ChatRequest{Model: "nope", Messages: []api.Message{{Role: "user", Content: "x"}}}, func(api.ChatResponse) error { return nil })
		if se, ok := err.(api.StatusError); !ok || se.StatusCode != 404 {
			t.Fatalf("got %#v", err)
		}
	})
}

// TestOpenAIClient drives the simulator's /v1 API with the official
// OpenAI Go SDK.
func TestOpenAIClient(t *testing.T) {
	p := startSim(t, "--profile", "instant")
	c := openai.NewClient(option.WithBaseURL(p.URL+"/v1/"), option.WithAPIKey("ollama"), option.WithMaxRetries(0))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const model = "deepseek-r1:7b"

	t.Run("chat", func(t *testing.T) {
		r, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}, MaxTokens: openai.Int(7),
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Choices) != 1 || r.Choices[0].FinishReason != "length" || r.Usage.CompletionTokens != 7 || r.Choices[0].Message.Content == "" ||
			!strings.HasPrefix(r.ID, "chatcmpl-") || r.JSON.SystemFingerprint.Raw() != `"fp_ollama"` {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("chat streamed with usage", func(t *testing.T) {
		s := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
			Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}, MaxTokens: openai.Int(6),
			StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
		})
		var acc openai.ChatCompletionAccumulator
		chunks := 0
		for s.Next() {
			acc.AddChunk(s.Current())
			chunks++
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		if chunks != 8 || acc.Usage.CompletionTokens != 6 || acc.Choices[0].FinishReason != "length" {
			t.Fatalf("%d chunks, %+v", chunks, acc.ChatCompletion)
		}
	})
	t.Run("completions", func(t *testing.T) {
		r, err := c.Completions.New(ctx, openai.CompletionNewParams{
			Model: openai.CompletionNewParamsModel(model), Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("Once")}, MaxTokens: openai.Int(4),
		})
		if err != nil || r.Choices[0].Text == "" || r.Usage.CompletionTokens != 4 {
			t.Fatalf("%+v %v", r, err)
		}
	})
	t.Run("embeddings", func(t *testing.T) {
		r, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{
			Model: model, Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a", "b"}}, Dimensions: openai.Int(8),
		})
		if err != nil || len(r.Data) != 2 || len(r.Data[1].Embedding) != 8 || r.Data[1].Index != 1 {
			t.Fatalf("%+v %v", r, err)
		}
	})
	t.Run("models", func(t *testing.T) {
		l, err := c.Models.List(ctx)
		if err != nil || len(l.Data) != 2 || l.Data[0].ID != "deepseek-r1:7b" || l.Data[0].OwnedBy != "library" {
			t.Fatalf("%+v %v", l, err)
		}
		m, err := c.Models.Get(ctx, "llama3.2:3b")
		if err != nil || m.ID != "llama3.2:3b" {
			t.Fatalf("%+v %v", m, err)
		}
		_, err = c.Models.Get(ctx, "nope")
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Message != "model 'nope' not found" {
			t.Fatalf("unknown model: %v", err)
		}
	})
}

package realollama

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// TestClients: the official Go client and the OpenAI Go SDK, pointed at the
// bridge instead of one Ollama, work unchanged against real Ollama: every
// call a chat application makes, streamed and not.
func TestClients(t *testing.T) {
	f := startFleet(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	t.Run("ollama", func(t *testing.T) {
		c := ollamaClient(t, f.bridge.URL)
		no, yes := false, true
		opts := map[string]any{"num_predict": 8}

		list, err := c.List(ctx)
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if !slices.ContainsFunc(list.Models, func(m api.ListModelResponse) bool { return m.Name == model+":latest" }) {
			t.Errorf("List: %s:latest missing from %+v", model, list.Models)
		}

		show, err := c.Show(ctx, &api.ShowRequest{Model: model})
		if err != nil {
			t.Fatalf("Show: %v", err)
		}
		if show.Details.Family != "llama" || !strings.Contains(show.Parameters, "num_predict") {
			t.Errorf("Show: family %q, parameters %q; want llama and num_predict", show.Details.Family, show.Parameters)
		}

		var gen api.GenerateResponse
		err = c.Generate(ctx, &api.GenerateRequest{Model: model, Prompt: "hello", Stream: &no, Options: opts},
			func(r api.GenerateResponse) error { gen = r; return nil })
		if err != nil || !gen.Done || gen.Response == "" || gen.EvalCount == 0 {
			t.Errorf("Generate: err %v, done %v, response %q, eval_count %d", err, gen.Done, gen.Response, gen.EvalCount)
		}

		chunks, text, done := 0, "", false
		err = c.Generate(ctx, &api.GenerateRequest{Model: model, Prompt: "hello", Stream: &yes, Options: opts},
			func(r api.GenerateResponse) error { chunks++; text += r.Response; done = r.Done; return nil })
		if err != nil || chunks < 2 || text == "" || !done {
			t.Errorf("Generate streamed: err %v, %d chunks, text %q, done %v", err, chunks, text, done)
		}

		msgs := []api.Message{{Role: "user", Content: "hello"}}
		var chat api.ChatResponse
		err = c.Chat(ctx, &api.ChatRequest{Model: model, Messages: msgs, Stream: &no, Options: opts},
			func(r api.ChatResponse) error { chat = r; return nil })
		if err != nil || !chat.Done || chat.Message.Role != "assistant" || chat.Message.Content == "" {
			t.Errorf("Chat: err %v, done %v, message %+v", err, chat.Done, chat.Message)
		}

		chunks, text, done = 0, "", false
		err = c.Chat(ctx, &api.ChatRequest{Model: model, Messages: msgs, Stream: &yes, Options: opts},
			func(r api.ChatResponse) error { chunks++; text += r.Message.Content; done = r.Done; return nil })
		if err != nil || chunks < 2 || text == "" || !done {
			t.Errorf("Chat streamed: err %v, %d chunks, text %q, done %v", err, chunks, text, done)
		}

		emb, err := c.Embed(ctx, &api.EmbedRequest{Model: model, Input: []string{"hello", "world"}})
		if err != nil || len(emb.Embeddings) != 2 || len(emb.Embeddings[0]) == 0 {
			t.Errorf("Embed: err %v, %d embeddings", err, len(emb.Embeddings))
		}

		// After the calls above the model is loaded somewhere behind the
		// bridge, and ps through the bridge says so.
		ps, err := c.ListRunning(ctx)
		if err != nil {
			t.Fatalf("ListRunning: %v", err)
		}
		if !slices.ContainsFunc(ps.Models, func(m api.ProcessModelResponse) bool { return m.Name == model+":latest" }) {
			t.Errorf("ListRunning: %s:latest missing from %+v", model, ps.Models)
		}
	})

	t.Run("openai", func(t *testing.T) {
		// No SDK retries: a failure the bridge lets through must show.
		c := openai.NewClient(option.WithBaseURL(f.bridge.URL+"/v1/"), option.WithAPIKey("unused"),
			option.WithMaxRetries(0))
		params := openai.ChatCompletionNewParams{
			Model:     model,
			Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")},
			MaxTokens: openai.Int(8),
		}

		comp, err := c.Chat.Completions.New(ctx, params)
		if err != nil {
			t.Fatalf("chat completion: %v", err)
		}
		if len(comp.Choices) != 1 || comp.Choices[0].Message.Content == "" || comp.Usage.CompletionTokens == 0 {
			t.Errorf("chat completion: %+v", comp)
		}

		stream := c.Chat.Completions.NewStreaming(ctx, params)
		var acc openai.ChatCompletionAccumulator
		chunks := 0
		for stream.Next() {
			acc.AddChunk(stream.Current())
			chunks++
		}
		if err := stream.Err(); err != nil {
			t.Fatalf("streamed chat completion: %v", err)
		}
		if chunks < 2 || len(acc.Choices) != 1 || acc.Choices[0].Message.Content == "" {
			t.Errorf("streamed chat completion: %d chunks, %+v", chunks, acc.ChatCompletion)
		}

		models, err := c.Models.List(ctx)
		if err != nil {
			t.Fatalf("models: %v", err)
		}
		if !slices.ContainsFunc(models.Data, func(m openai.Model) bool { return m.ID == model+":latest" }) {
			t.Errorf("models: %s:latest missing from %+v", model, models.Data)
		}

		emb, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{
			Model: model,
			Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"hello", "world"}},
		})
		if err != nil {
			t.Fatalf("embeddings: %v", err)
		}
		if len(emb.Data) != 2 || len(emb.Data[0].Embedding) == 0 {
			t.Errorf("embeddings: %d vectors", len(emb.Data))
		}
	})
}

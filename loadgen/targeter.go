package loadgen

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
)

// Target is one request to send: what the Targeter builds for each arrival.
type Target struct {
	Method   string
	URL      string
	Body     []byte
	Endpoint Endpoint
	Model    string
	Format   Format // how to read the response
	Name     string // the mix entry's name
}

// Targeter fills t for the arrival with index seq (0-based). Like vegeta's,
// it is a func type; unlike vegeta's it is told the index, so a seeded mix
// gives every arrival the same request whatever order workers run in.
type Targeter func(seq uint64, t *Target) error

// NewTargeter returns a Targeter that draws entries from m by weight, with
// prompt and output lengths from their distributions, all derived from seed
// and the arrival's index. base is the server root (no trailing slash
// needed); model fills entries that name none.
func NewTargeter(base string, m *Mix, model string, seed uint64) Targeter {
	base = strings.TrimRight(base, "/")
	vocab := strings.Fields(vocabulary)
	return func(seq uint64, t *Target) error {
		r := rand.New(rand.NewPCG(seed, splitmix64(seq)))
		e := m.pick(r.Float64())
		mdl := e.Model
		if mdl == "" {
			mdl = model
		}
		body, err := requestBody(e, mdl, prompt(r, vocab, e.PromptTokens.Sample(r)), e.MaxTokens.Sample(r))
		if err != nil {
			return err
		}
		*t = Target{
			Method: "POST", URL: base + string(e.Endpoint), Body: body,
			Endpoint: e.Endpoint, Model: mdl, Format: e.Format(), Name: e.Name,
		}
		return nil
	}
}

// requestBody builds the JSON body of e's endpoint with the field names of
// Ollama's API (api.ChatRequest, api.GenerateRequest, …) and its OpenAI
// layer. Only the fields a load test sets are written.
func requestBody(e *MixEntry, model, text string, maxTokens int) ([]byte, error) {
	stream := e.Stream != nil && *e.Stream
	type msg struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	type options struct {
		NumPredict int `json:"num_predict"`
	}
	var v any
	switch e.Endpoint {
	case EndpointChat:
		v = struct {
			Model    string  `json:"model"`
			Messages []msg   `json:"messages"`
			Stream   bool    `json:"stream"`
			Options  options `json:"options"`
		}{model, []msg{{"user", text}}, stream, options{maxTokens}}
	case EndpointGenerate:
		v = struct {
			Model   string  `json:"model"`
			Prompt  string  `json:"prompt"`
			Stream  bool    `json:"stream"`
			Options options `json:"options"`
		}{model, text, stream, options{maxTokens}}
	case EndpointEmbed:
		v = struct {
			Model string `json:"model"`
			Input string `json:"input"`
		}{model, text}
	case EndpointEmbeddings:
		v = struct {
			Model  string `json:"model"`
			Prompt string `json:"prompt"`
		}{model, text}
	case EndpointOpenAIEmbeddings:
		v = struct {
			Model string `json:"model"`
			Input string `json:"input"`
		}{model, text}
	case EndpointOpenAIChat:
		v = struct {
			Model         string         `json:"model"`
			Messages      []msg          `json:"messages"`
			Stream        bool           `json:"stream"`
			MaxTokens     int            `json:"max_tokens"`
			StreamOptions *streamOptions `json:"stream_options,omitempty"`
		}{model, []msg{{"user", text}}, stream, maxTokens, usageOpt(stream)}
	case EndpointOpenAICompletion:
		v = struct {
			Model         string         `json:"model"`
			Prompt        string         `json:"prompt"`
			Stream        bool           `json:"stream"`
			MaxTokens     int            `json:"max_tokens"`
			StreamOptions *streamOptions `json:"stream_options,omitempty"`
		}{model, text, stream, maxTokens, usageOpt(stream)}
	}
	return json.Marshal(v)
}

// streamOptions asks an OpenAI stream for a final usage chunk, the only
// place it reports token counts.
type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

func usageOpt(stream bool) *streamOptions {
	if !stream {
		return nil
	}
	return &streamOptions{IncludeUsage: true}
}

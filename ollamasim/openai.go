package ollamasim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/ollama/ollama/openai"
)

// handleOpenAIChat is /v1/chat/completions: Ollama's ChatMiddleware in
// front of its ChatHandler.
func (s *Server) handleOpenAIChat(w http.ResponseWriter, r *http.Request) {
	const ep = "/v1/chat/completions"
	start := s.now()
	var req openai.ChatCompletionRequest
	if !s.decode(w, r, ep, &req, true) {
		return
	}
	if len(req.Messages) == 0 {
		s.openAIBindError(w, ep, http.StatusBadRequest, "[] is too short - 'messages'")
		return
	}
	chatReq, err := openai.FromChatRequest(req)
	if err != nil {
		s.openAIBindError(w, ep, http.StatusBadRequest, err.Error())
		return
	}
	if chatReq.Model == "" {
		s.openAIHandlerError(w, ep, "", http.StatusBadRequest, "model is required")
		return
	}
	m, ok := s.lookup(chatReq.Model)
	if !ok {
		s.openAIHandlerError(w, ep, "", http.StatusNotFound, fmt.Sprintf("model '%s' not found", chatReq.Model))
		return
	}
	f := &openAIChatFormat{id: s.nextID("chatcmpl-"), model: chatReq.Model, usage: req.StreamOptions != nil && req.StreamOptions.IncludeUsage}
	s.chat(w, r, ep, true, m, chatReq, start, f)
}

// handleOpenAICompletion is /v1/completions (CompletionsMiddleware +
// GenerateHandler).
func (s *Server) handleOpenAICompletion(w http.ResponseWriter, r *http.Request) {
	const ep = "/v1/completions"
	start := s.now()
	var req openai.CompletionRequest
	if !s.decode(w, r, ep, &req, true) {
		return
	}
	genReq, err := openai.FromCompleteRequest(req)
	if err != nil {
		s.openAIBindError(w, ep, http.StatusBadRequest, err.Error())
		return
	}
	m, ok := s.lookup(genReq.Model)
	if !ok {
		s.openAIHandlerError(w, ep, "", http.StatusNotFound, fmt.Sprintf("model '%s' not found", genReq.Model))
		return
	}
	f := &openAICompletionFormat{id: s.nextID("cmpl-"), model: genReq.Model, usage: req.StreamOptions != nil && req.StreamOptions.IncludeUsage}
	s.generate(w, r, ep, true, m, &genReq, start, f)
}

// nextID makes Ollama-style ids ("chatcmpl-" + 0..998, from rand.Intn(999)).
func (s *Server) nextID(prefix string) string {
	return prefix + strconv.FormatUint(s.ids.Add(1)%999, 10)
}

// openAIChatFormat frames /v1/chat/completions (middleware ChatWriter).
type openAIChatFormat struct {
	id, model string
	usage     bool
}

func (f *openAIChatFormat) streamType() string { return ctSSE }

func appendSSE(b []byte, v any) []byte {
	j, err := json.Marshal(v)
	if err != nil {
		return b
	}
	b = append(b, "data: "...)
	b = append(b, j...)
	return append(b, "\n\n"...)
}

func (f *openAIChatFormat) token(b []byte, text string, thinking bool, now time.Time) []byte {
	// openai.ToChunk stamps "created" with time.Now().Unix().
	return appendOpenAIChatToken(b, f.id, f.model, now.Unix(), text, thinking)
}

func (f *openAIChatFormat) resp(r *result, thinking, text string) api.ChatResponse {
	return api.ChatResponse{
		Model: f.model, CreatedAt: r.createdAt, Message: api.Message{Role: "assistant", Content: text, Thinking: thinking},
		Done: true, DoneReason: r.gen.doneReason, Metrics: r.metrics,
	}
}

func (f *openAIChatFormat) final(b []byte, r *result) []byte {
	c := openai.ToChunk(f.id, f.resp(r, "", ""), false)
	b = appendSSE(b, c)
	if f.usage {
		u := openai.ToUsage(f.resp(r, "", ""))
		c.Usage = &u
		c.Choices = []openai.ChunkChoice{}
		b = appendSSE(b, c)
	}
	return append(b, "data: [DONE]\n\n"...)
}

func (f *openAIChatFormat) whole(w http.ResponseWriter, r *result) {
	thinking, content := r.texts()
	writeJSONNL(w, http.StatusOK, openai.ToChatCompletion(f.id, f.resp(r, thinking, content)))
}

// errorLine: OpenAI's own mid-stream error event. (Ollama's ChatWriter
// would turn an {"error"} line into an empty chunk; a chaos run wants the
// error visible, in the form OpenAI clients parse.)
func (f *openAIChatFormat) errorLine(b []byte, msg string) []byte {
	return appendSSE(b, openai.NewError(http.StatusInternalServerError, msg))
}

// openAICompletionFormat frames /v1/completions (middleware CompleteWriter).
type openAICompletionFormat struct {
	id, model string
	usage     bool
}

func (f *openAICompletionFormat) streamType() string { return ctSSE }

func (f *openAICompletionFormat) chunk(r api.GenerateResponse) openai.CompletionChunk {
	c := openai.ToCompleteChunk(f.id, r)
	if f.usage {
		c.Usage = &openai.Usage{} // CompleteWriter sends an empty usage on every chunk
	}
	return c
}

func (f *openAICompletionFormat) token(b []byte, text string, thinking bool, now time.Time) []byte {
	if thinking {
		text = "" // CompleteWriter keeps only "response": a thinking chunk has no text
	}
	return appendSSE(b, f.chunk(api.GenerateResponse{Model: f.model, CreatedAt: now, Response: text}))
}

func (f *openAICompletionFormat) resp(r *result, text string) api.GenerateResponse {
	return api.GenerateResponse{
		Model: f.model, CreatedAt: r.createdAt, Response: text, Done: true,
		DoneReason: r.gen.doneReason, Metrics: r.metrics,
	}
}

func (f *openAICompletionFormat) final(b []byte, r *result) []byte {
	c := f.chunk(f.resp(r, ""))
	b = appendSSE(b, c)
	if f.usage {
		u := openai.ToUsageGenerate(f.resp(r, ""))
		c.Usage = &u
		c.Choices = []openai.CompleteChunkChoice{}
		b = appendSSE(b, c)
	}
	return append(b, "data: [DONE]\n\n"...)
}

func (f *openAICompletionFormat) whole(w http.ResponseWriter, r *result) {
	_, content := r.texts()
	writeJSONNL(w, http.StatusOK, openai.ToCompletion(f.id, f.resp(r, content)))
}

func (f *openAICompletionFormat) errorLine(b []byte, msg string) []byte {
	return appendSSE(b, openai.NewError(http.StatusInternalServerError, msg))
}

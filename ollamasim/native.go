package ollamasim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/ollama/ollama/types/model"
)

// Template overheads in tokens: a ChatML-style template wraps each message
// in a few special tokens and adds the assistant header; /api/generate
// wraps the prompt as one user message unless raw.
const (
	tokPerMessage  = 4
	tokChatTail    = 3
	tokRawOverhead = 1 // BOS
)

func chatPrompt(msgs []api.Message) (string, int) {
	var b strings.Builder
	n := tokChatTail
	for _, m := range msgs {
		b.WriteString(m.Role)
		b.WriteByte('\n')
		b.WriteString(m.Content)
		b.WriteByte('\n')
		n += tokPerMessage + countTokens(m.Content)
	}
	return b.String(), n
}

func isStream(p *bool) bool { return p == nil || *p }

// clampPrompt truncates a prompt to the context, as Ollama silently does.
func clampPrompt(n, numCtx, ctxLen int) int {
	if numCtx <= 0 {
		numCtx = ctxLen
	}
	if numCtx > 0 && n > numCtx {
		return numCtx
	}
	return max(n, 1)
}

func (s *Server) handleGenerate(w http.ResponseWriter, r *http.Request) {
	const ep = "/api/generate"
	start := s.now()
	var req api.GenerateRequest
	if !s.decode(w, r, ep, &req, false) {
		return
	}
	m, ok := s.lookup(req.Model)
	if !ok {
		s.nativeError(w, ep, "", http.StatusNotFound, fmt.Sprintf("model '%s' not found", req.Model))
		return
	}
	s.generate(w, r, ep, false, m, &req, start, nil)
}

// generate serves /api/generate and, through f, /v1/completions.
func (s *Server) generate(w http.ResponseWriter, r *http.Request, ep string, isOpenAI bool, m *modelInfo, req *api.GenerateRequest, start time.Time, f format) {
	if !s.checkOptions(w, ep, m, isOpenAI, req.Options) {
		return
	}
	// An empty prompt only loads (or, with keep_alive 0, unloads) the model.
	if req.Prompt == "" && len(req.Images) == 0 && !isOpenAI {
		s.loadOnly(w, r, ep, m, req.KeepAlive, func(reason string) any {
			return api.GenerateResponse{Model: req.Model, CreatedAt: s.now().UTC(), Response: "", Done: true, DoneReason: reason}
		})
		return
	}
	think, ok := s.thinkOf(w, ep, m, req.Model, isOpenAI, req.Think)
	if !ok {
		return
	}
	numPredict, stop, seed, numCtx := optionsOf(req.Options)
	prompt := req.System + "\n" + req.Prompt
	n := countTokens(req.Prompt) + countTokens(req.System)
	if req.Raw {
		n += tokRawOverhead
	} else {
		n += tokPerMessage + tokChatTail
		if req.System != "" {
			n += tokPerMessage
		}
	}
	j := &job{
		endpoint: ep, path: r.URL.Path, model: m, prompt: prompt,
		promptToks: clampPrompt(n, numCtx, m.contextLen), numPredict: numPredict, numCtx: numCtx, stop: stop, seed: seed,
		keepAlive: keepAliveOf(req.KeepAlive), stream: isStream(req.Stream), isOpenAI: isOpenAI, think: think, start: start,
		fields: jsonFields(req.Format),
	}
	if f == nil {
		f = &generateFormat{model: req.Model, withContext: !req.Raw}
	}
	s.run(w, r, j, f)
}

func (s *Server) handleChat(w http.ResponseWriter, r *http.Request) {
	const ep = "/api/chat"
	start := s.now()
	var req api.ChatRequest
	if !s.decode(w, r, ep, &req, false) {
		return
	}
	if req.Model == "" {
		s.nativeError(w, ep, "", http.StatusBadRequest, "model is required")
		return
	}
	m, ok := s.lookup(req.Model)
	if !ok {
		s.nativeError(w, ep, "", http.StatusNotFound, fmt.Sprintf("model '%s' not found", req.Model))
		return
	}
	s.chat(w, r, ep, false, m, &req, start, nil)
}

// chat serves /api/chat and, through f, /v1/chat/completions.
func (s *Server) chat(w http.ResponseWriter, r *http.Request, ep string, isOpenAI bool, m *modelInfo, req *api.ChatRequest, start time.Time, f format) {
	if len(req.Messages) == 0 {
		if !s.checkOptions(w, ep, m, isOpenAI, req.Options) {
			return
		}
		s.loadOnly(w, r, ep, m, req.KeepAlive, func(reason string) any {
			return api.ChatResponse{Model: req.Model, CreatedAt: s.now().UTC(), Message: api.Message{Role: "assistant"}, Done: true, DoneReason: reason}
		})
		return
	}
	think, ok := s.thinkOf(w, ep, m, req.Model, isOpenAI, req.Think)
	if !ok {
		return
	}
	if len(req.Tools) > 0 && !slices.Contains(m.caps, model.CapabilityTools) {
		// scheduleRunner's CheckCapabilities, prefixed with the full name.
		s.capabilityError(w, ep, m, isOpenAI, model.ParseName(m.name).String()+" does not support tools")
		return
	}
	if !s.checkOptions(w, ep, m, isOpenAI, req.Options) {
		return
	}
	numPredict, stop, seed, numCtx := optionsOf(req.Options)
	prompt, n := chatPrompt(req.Messages)
	j := &job{
		endpoint: ep, path: r.URL.Path, model: m, prompt: prompt,
		promptToks: clampPrompt(n, numCtx, m.contextLen), numPredict: numPredict, numCtx: numCtx, stop: stop, seed: seed,
		keepAlive: keepAliveOf(req.KeepAlive), stream: isStream(req.Stream), isOpenAI: isOpenAI, think: think, start: start,
		fields: jsonFields(req.Format),
	}
	if f == nil {
		f = &chatFormat{model: req.Model}
	}
	s.run(w, r, j, f)
}

// thinkOf applies Ollama's think defaults: on for a thinking-capable model
// unless the request says false; asking a model without the capability to
// think is a 400.
// The message quotes the name as the request spelled it.
func (s *Server) thinkOf(w http.ResponseWriter, ep string, m *modelInfo, asked string, isOpenAI bool, t *api.ThinkValue) (bool, bool) {
	capable := slices.Contains(m.caps, model.CapabilityThinking)
	if !capable {
		if t != nil && t.Bool() {
			s.capabilityError(w, ep, m, isOpenAI, fmt.Sprintf("%q does not support thinking", asked))
			return false, false
		}
		return false, true
	}
	return t == nil || t.Bool(), true
}

// capabilityError is a 400 for a capability the model lacks, in the
// caller's protocol.
func (s *Server) capabilityError(w http.ResponseWriter, ep string, m *modelInfo, isOpenAI bool, msg string) {
	if isOpenAI {
		s.openAIHandlerError(w, ep, m.name, http.StatusBadRequest, msg)
	} else {
		s.nativeError(w, ep, m.name, http.StatusBadRequest, msg)
	}
}

// checkOptions answers a wrongly typed option as Ollama's scheduleRunner
// does: 500 with api.Options.FromMap's message.
func (s *Server) checkOptions(w http.ResponseWriter, ep string, m *modelInfo, isOpenAI bool, opts map[string]any) bool {
	err := s.options.check(opts)
	if err == nil {
		return true
	}
	if isOpenAI {
		s.openAIHandlerError(w, ep, m.name, http.StatusInternalServerError, err.Error())
	} else {
		s.nativeError(w, ep, m.name, http.StatusInternalServerError, err.Error())
	}
	return false
}

// loadOnly answers a request with nothing to generate: keep_alive 0
// unloads (done_reason "unload"), anything else loads (done_reason "load").
// Ollama answers these as one object even when streaming was asked for.
func (s *Server) loadOnly(w http.ResponseWriter, r *http.Request, ep string, m *modelInfo, ka *api.Duration, resp func(reason string) any) {
	p := makePlan(s.faults.roll(r.URL.Path, m.name))
	if !s.preFaults(w, r, ep, m.name, false, p) {
		return
	}
	if ka != nil && ka.Duration == 0 {
		s.sched.expire(m.name)
		writeJSON(w, http.StatusOK, resp("unload"))
		s.metrics.request(ep, m.name, http.StatusOK)
		return
	}
	l, err := s.sched.acquire(r.Context(), m.name, keepAliveOf(ka), 0)
	if err != nil {
		s.scheduleError(w, &job{endpoint: ep, model: m}, err)
		return
	}
	l.release()
	writeJSON(w, http.StatusOK, resp("load"))
	s.metrics.request(ep, m.name, http.StatusOK)
}

// generateFormat frames /api/generate.
type generateFormat struct {
	model       string
	withContext bool
}

func (f *generateFormat) streamType() string { return ctNDJSON }

func (f *generateFormat) token(b []byte, text string, thinking bool, now time.Time) []byte {
	return appendGenerateToken(b, f.model, now.UTC(), text, thinking)
}

func (f *generateFormat) resp(r *result, thinking, text string) api.GenerateResponse {
	out := api.GenerateResponse{
		Model: f.model, CreatedAt: r.createdAt, Response: text, Thinking: thinking, Done: true,
		DoneReason: r.gen.doneReason, Metrics: r.metrics,
	}
	if f.withContext {
		out.Context = append(append(make([]int, 0, len(r.promptIDs)+r.n), r.promptIDs...), r.gen.ids[:r.n]...)
	}
	return out
}

func (f *generateFormat) final(b []byte, r *result) []byte { return appendLine(b, f.resp(r, "", "")) }

func (f *generateFormat) whole(w http.ResponseWriter, r *result) {
	thinking, content := r.texts()
	writeJSON(w, http.StatusOK, f.resp(r, thinking, content))
}

func (f *generateFormat) errorLine(b []byte, msg string) []byte {
	return appendLine(b, map[string]string{"error": msg})
}

// chatFormat frames /api/chat.
type chatFormat struct{ model string }

func (f *chatFormat) streamType() string { return ctNDJSON }

func (f *chatFormat) token(b []byte, text string, thinking bool, now time.Time) []byte {
	return appendChatToken(b, f.model, now.UTC(), text, thinking)
}

// message is a streamed assistant message: reasoning goes in "thinking",
// with an empty "content" (Ollama's ChatHandler with think on).
func message(text string, thinking bool) api.Message {
	if thinking {
		return api.Message{Role: "assistant", Thinking: text}
	}
	return api.Message{Role: "assistant", Content: text}
}

func (f *chatFormat) resp(r *result, thinking, text string) api.ChatResponse {
	return api.ChatResponse{
		Model: f.model, CreatedAt: r.createdAt, Message: api.Message{Role: "assistant", Content: text, Thinking: thinking},
		Done: true, DoneReason: r.gen.doneReason, Metrics: r.metrics,
	}
}

func (f *chatFormat) final(b []byte, r *result) []byte { return appendLine(b, f.resp(r, "", "")) }

func (f *chatFormat) whole(w http.ResponseWriter, r *result) {
	thinking, content := r.texts()
	writeJSON(w, http.StatusOK, f.resp(r, thinking, content))
}

func (f *chatFormat) errorLine(b []byte, msg string) []byte {
	return appendLine(b, map[string]string{"error": msg})
}

// appendLine is streamResponse's json.Marshal + "\n".
func appendLine(b []byte, v any) []byte {
	j, err := json.Marshal(v)
	if err != nil {
		return b
	}
	b = append(b, j...)
	return append(b, '\n')
}

package ollamasim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"time"

	"github.com/ollama/ollama/anthropic"
	"github.com/ollama/ollama/api"
	"github.com/ollama/ollama/openai"
	"github.com/ollama/ollama/types/model"
)

// /v1/responses and /v1/messages are, in Ollama, middlewares in front of
// ChatHandler (middleware.ResponsesMiddleware, AnthropicMessagesMiddleware):
// they turn the request into an api.ChatRequest, let ChatHandler answer,
// and rewrite each frame it writes with Ollama's own converters
// (openai.ResponsesStreamConverter, anthropic.StreamConverter). The
// simulator does the same around its own /api/chat, so the translation is
// Ollama's code, not a copy of it. The middlewares' writers need gin, so
// translator is their logic over a plain http.ResponseWriter.

// translator rewrites the native chat handler's output.
type translator struct {
	w      http.ResponseWriter
	status int
	stream bool
	// frame converts one native api.ChatResponse (a stream line, or the
	// whole answer) and writes it.
	frame func(w http.ResponseWriter, r api.ChatResponse) error
	// fail writes a native {"error": …} answered with status.
	fail func(w http.ResponseWriter, status int, msg string) error
	rest []byte // a stream line split across writes
}

func (t *translator) Header() http.Header { return t.w.Header() }

func (t *translator) WriteHeader(status int) {
	if t.status != 0 {
		return
	}
	t.status = status
	h := t.w.Header()
	h.Del("Content-Length")
	switch {
	case status != http.StatusOK:
		h.Set("Content-Type", "application/json")
	case t.stream:
		h.Set("Content-Type", "text/event-stream")
	default:
		h.Set("Content-Type", "application/json")
	}
	t.w.WriteHeader(status)
}

func (t *translator) Write(b []byte) (int, error) {
	if t.status == 0 {
		t.WriteHeader(http.StatusOK)
	}
	if t.status != http.StatusOK {
		var e api.StatusError
		if err := json.Unmarshal(b, &e); err != nil {
			return 0, err
		}
		return len(b), t.fail(t.w, t.status, e.Error())
	}
	// The native handler writes whole lines, but nothing promises one per
	// Write: translate each complete line.
	data := append(t.rest, b...)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		if err := t.line(data[:i]); err != nil {
			return 0, err
		}
		data = data[i+1:]
	}
	t.rest = slices.Clone(data)
	if !t.stream && len(t.rest) > 0 {
		// Not streamed: one object with no newline (gin's c.JSON).
		err := t.line(t.rest)
		t.rest = nil
		if err != nil {
			return 0, err
		}
	}
	return len(b), nil
}

func (t *translator) line(l []byte) error {
	if len(bytes.TrimSpace(l)) == 0 {
		return nil
	}
	var r api.ChatResponse
	if err := json.Unmarshal(l, &r); err != nil {
		return err
	}
	return t.frame(t.w, r)
}

func (t *translator) Flush() {
	if f, ok := t.w.(http.Flusher); ok {
		f.Flush()
	}
}

// writeSSE is the middlewares' "event: …\ndata: …\n\n", flushed.
func writeSSE(w http.ResponseWriter, event string, data any) error {
	d, err := json.Marshal(data)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, d); err != nil {
		return err
	}
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	return nil
}

// sseHeaders are what both middlewares set before a streamed answer.
func sseHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
}

// handleResponses is /v1/responses (ResponsesMiddleware + ChatHandler).
func (s *Server) handleResponses(w http.ResponseWriter, r *http.Request) {
	const ep = "/v1/responses"
	start := s.now()
	var req openai.ResponsesRequest
	if !s.decode(w, r, ep, &req, true) {
		return
	}
	chatReq, err := openai.FromResponsesRequest(req)
	if err != nil {
		s.openAIBindError(w, ep, http.StatusBadRequest, err.Error())
		return
	}
	stream := req.Stream != nil && *req.Stream
	chatReq.Stream = &stream
	responseID := fmt.Sprintf("resp_%d", rand.IntN(999999))
	itemID := fmt.Sprintf("msg_%d", rand.IntN(999999))
	conv := openai.NewResponsesStreamConverter(responseID, itemID, req.Model, req)
	if stream {
		sseHeaders(w)
	}
	t := &translator{w: w, stream: stream,
		frame: func(w http.ResponseWriter, cr api.ChatResponse) error {
			if stream {
				for _, e := range conv.Process(cr) {
					if err := writeSSE(w, e.Event, e.Data); err != nil {
						return err
					}
				}
				return nil
			}
			resp := openai.ToResponse(req.Model, responseID, itemID, cr, req)
			done := time.Now().Unix()
			resp.CompletedAt = &done
			return json.NewEncoder(w).Encode(resp)
		},
		// BaseWriter.writeError: "api_error" whatever the status.
		fail: func(w http.ResponseWriter, _ int, msg string) error {
			return json.NewEncoder(w).Encode(openai.NewError(http.StatusInternalServerError, msg))
		},
	}
	s.translatedChat(t, r, ep, chatReq, start)
}

// handleMessages is /v1/messages, the Anthropic Messages API
// (AnthropicMessagesMiddleware + ChatHandler). Ollama runs web_search tool
// calls against ollama.com; the simulator's models never call tools, so
// it never does.
func (s *Server) handleMessages(w http.ResponseWriter, r *http.Request) {
	const ep = "/v1/messages"
	start := s.now()
	var req anthropic.MessagesRequest
	if err := decodeBody(r, &req); err != nil {
		s.anthropicError(w, ep, http.StatusBadRequest, err.Error())
		return
	}
	switch {
	case req.Model == "":
		s.anthropicError(w, ep, http.StatusBadRequest, "model is required")
		return
	case req.MaxTokens <= 0:
		s.anthropicError(w, ep, http.StatusBadRequest, "max_tokens is required and must be positive")
		return
	case len(req.Messages) == 0:
		s.anthropicError(w, ep, http.StatusBadRequest, "messages is required")
		return
	}
	chatReq, err := anthropic.FromMessagesRequest(req)
	if err != nil {
		s.anthropicError(w, ep, http.StatusBadRequest, err.Error())
		return
	}
	// "relax_thinking": thinking asked of a model without it is dropped,
	// not refused, so that tools like Claude Code work with any model.
	if m, ok := s.lookup(chatReq.Model); ok && chatReq.Think != nil && !slices.Contains(m.caps, model.CapabilityThinking) {
		chatReq.Think = nil
	}
	id := anthropic.GenerateMessageID()
	conv := anthropic.NewStreamConverter(id, req.Model, anthropic.EstimateInputTokens(req))
	if req.Stream {
		sseHeaders(w)
	}
	t := &translator{w: w, stream: req.Stream,
		frame: func(w http.ResponseWriter, cr api.ChatResponse) error {
			if req.Stream {
				for _, e := range conv.Process(cr) {
					if err := writeSSE(w, e.Event, e.Data); err != nil {
						return err
					}
				}
				return nil
			}
			return json.NewEncoder(w).Encode(anthropic.ToMessagesResponse(id, cr))
		},
		fail: func(w http.ResponseWriter, status int, msg string) error {
			return json.NewEncoder(w).Encode(anthropic.NewError(status, msg))
		},
	}
	s.translatedChat(t, r, ep, chatReq, start)
}

// translatedChat runs ChatHandler's part for a middleware: the model
// checks and the generation, written through t.
func (s *Server) translatedChat(t *translator, r *http.Request, ep string, req *api.ChatRequest, start time.Time) {
	if req.Model == "" {
		s.nativeError(t, ep, "", http.StatusBadRequest, "model is required")
		return
	}
	m, ok := s.lookup(req.Model)
	if !ok {
		s.nativeError(t, ep, "", http.StatusNotFound, fmt.Sprintf("model '%s' not found", req.Model))
		return
	}
	s.chat(t, r, ep, false, m, req, start, &chatFormat{model: req.Model})
}

// anthropicError is an error of the Anthropic middleware itself
// (c.AbortWithStatusJSON with anthropic.NewError): gin's JSON.
func (s *Server) anthropicError(w http.ResponseWriter, ep string, status int, msg string) {
	writeJSON(w, status, anthropic.NewError(status, msg))
	s.metrics.request(ep, "", status)
}

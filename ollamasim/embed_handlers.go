package ollamasim

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/ollama/ollama/openai"
)

// embedInputs reads /api/embed's input: a string or a list of strings.
func embedInputs(in any) ([]string, bool) {
	switch v := in.(type) {
	case nil:
		return nil, true
	case string:
		if v == "" {
			return nil, true
		}
		return []string{v}, true
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			s, ok := x.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

func (s *Server) handleEmbed(w http.ResponseWriter, r *http.Request) {
	const ep = "/api/embed"
	start := s.now()
	var req api.EmbedRequest
	if !s.decode(w, r, ep, &req, false) {
		return
	}
	inputs, ok := embedInputs(req.Input)
	if !ok {
		s.nativeError(w, ep, "", http.StatusBadRequest, "invalid input type")
		return
	}
	m, ok := s.lookup(req.Model)
	if !ok {
		// getExistingName finds nothing to correct; scheduleRunner then
		// fails with os.ErrNotExist (handleScheduleError).
		s.nativeError(w, ep, "", http.StatusNotFound, fmt.Sprintf("model %q not found, try pulling it first", req.Model))
		return
	}
	if !s.checkOptions(w, ep, m, false, req.Options) {
		return
	}
	truncate := req.Truncate == nil || *req.Truncate
	resp, ok := s.embed(w, r, ep, false, m, req.Model, inputs, req.Dimensions, truncate, req.KeepAlive, start)
	if ok {
		writeJSON(w, http.StatusOK, resp)
		s.metrics.request(ep, m.name, http.StatusOK)
	}
}

// embed schedules an embedding request and computes its vectors
// (L2-normalised, truncated to dims and renormalised, as EmbedHandler does).
// An input longer than the context is truncated to it, unless truncate is
// false: then the runner's 400.
func (s *Server) embed(w http.ResponseWriter, r *http.Request, ep string, isOpenAI bool, m *modelInfo, name string, inputs []string, dims int, truncate bool, ka *api.Duration, start time.Time) (api.EmbedResponse, bool) {
	j := &job{endpoint: ep, model: m, isOpenAI: isOpenAI}
	p := makePlan(s.faults.roll(r.URL.Path, m.name))
	if !s.preFaults(w, r, ep, m.name, isOpenAI, p) {
		return api.EmbedResponse{}, false
	}
	if p.cut != nil {
		panic(http.ErrAbortHandler)
	}
	l, err := s.sched.acquire(r.Context(), m.name, keepAliveOf(ka), 0)
	if err != nil {
		s.scheduleError(w, j, err)
		return api.EmbedResponse{}, false
	}
	defer l.release()
	loaded := s.now()
	if len(inputs) == 0 {
		return api.EmbedResponse{Model: name, Embeddings: [][]float32{}}, true
	}
	if err := l.slot(r.Context()); err != nil {
		s.scheduleError(w, j, err)
		return api.EmbedResponse{}, false
	}
	prof := &m.prof
	n := 0
	for _, in := range inputs {
		k := countTokens(in) + 2 // + BOS/EOS
		if !truncate && k > m.contextLen {
			msg := "the input length exceeds the context length"
			if isOpenAI {
				s.openAIHandlerError(w, ep, m.name, http.StatusBadRequest, msg)
			} else {
				s.nativeError(w, ep, m.name, http.StatusBadRequest, msg)
			}
			return api.EmbedResponse{}, false
		}
		n += clampPrompt(k, 0, m.contextLen)
	}
	if !sleep(r.Context(), prof.TTFT.D()+time.Duration(n)*prof.PrefillPerToken.D()) {
		return api.EmbedResponse{}, false
	}
	if dims <= 0 || dims > m.embedLen {
		dims = m.embedLen
	}
	out := api.EmbedResponse{Model: name, Embeddings: make([][]float32, len(inputs))}
	for i, in := range inputs {
		out.Embeddings[i] = embedding(s.cfg.Seed, m.name, in, dims, true)
	}
	now := s.now()
	out.TotalDuration = max(now.Sub(start), 1)
	out.LoadDuration = max(loaded.Sub(start), 1)
	out.PromptEvalCount = n
	s.metrics.promptTokens.WithLabelValues(m.name).Add(float64(n))
	return out, true
}

// handleEmbeddings is the legacy /api/embeddings: one prompt, one
// un-normalised float64 vector; an empty prompt only loads the model.
func (s *Server) handleEmbeddings(w http.ResponseWriter, r *http.Request) {
	const ep = "/api/embeddings"
	start := s.now()
	var req api.EmbeddingRequest
	if !s.decode(w, r, ep, &req, false) {
		return
	}
	if req.Model == "" {
		s.nativeError(w, ep, "", http.StatusBadRequest, "model is required")
		return
	}
	m, ok := s.lookup(req.Model)
	if !ok {
		// handleScheduleError's os.ErrNotExist case.
		s.nativeError(w, ep, "", http.StatusNotFound, fmt.Sprintf("model %q not found, try pulling it first", req.Model))
		return
	}
	if !s.checkOptions(w, ep, m, false, req.Options) {
		return
	}
	var inputs []string
	if req.Prompt != "" {
		inputs = []string{req.Prompt}
	}
	resp, ok := s.embed(w, r, ep, false, m, req.Model, inputs, 0, true, req.KeepAlive, start)
	if !ok {
		return
	}
	out := api.EmbeddingResponse{Embedding: []float64{}}
	if len(inputs) > 0 {
		raw := embedding(s.cfg.Seed, m.name, req.Prompt, m.embedLen, false)
		out.Embedding = make([]float64, len(raw))
		for i, v := range raw {
			out.Embedding[i] = float64(v)
		}
	}
	_ = resp
	writeJSON(w, http.StatusOK, out)
	s.metrics.request(ep, m.name, http.StatusOK)
}

// handleOpenAIEmbeddings is /v1/embeddings (EmbeddingsMiddleware + EmbedHandler).
func (s *Server) handleOpenAIEmbeddings(w http.ResponseWriter, r *http.Request) {
	const ep = "/v1/embeddings"
	start := s.now()
	var req openai.EmbedRequest
	if !s.decode(w, r, ep, &req, true) {
		return
	}
	if req.EncodingFormat != "" && !strings.EqualFold(req.EncodingFormat, "float") && !strings.EqualFold(req.EncodingFormat, "base64") {
		s.openAIBindError(w, ep, http.StatusBadRequest, fmt.Sprintf("Invalid value for 'encoding_format' = %s. Supported values: ['float', 'base64'].", req.EncodingFormat))
		return
	}
	if req.Input == "" {
		req.Input = []any{""}
	}
	if v, ok := req.Input.([]any); req.Input == nil || ok && len(v) == 0 {
		s.openAIBindError(w, ep, http.StatusBadRequest, "invalid input")
		return
	}
	inputs, ok := embedInputs(req.Input)
	if !ok {
		s.openAIHandlerError(w, ep, "", http.StatusBadRequest, "invalid input type")
		return
	}
	m, ok := s.lookup(req.Model)
	if !ok {
		// EmbedHandler's, as for /api/embed.
		s.openAIHandlerError(w, ep, "", http.StatusNotFound, fmt.Sprintf("model %q not found, try pulling it first", req.Model))
		return
	}
	resp, ok := s.embed(w, r, ep, true, m, req.Model, inputs, req.Dimensions, true, nil, start)
	if !ok {
		return
	}
	writeJSONNL(w, http.StatusOK, openai.ToEmbeddingList(req.Model, resp, req.EncodingFormat))
	s.metrics.request(ep, m.name, http.StatusOK)
}

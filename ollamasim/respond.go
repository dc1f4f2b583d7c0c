package ollamasim

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/ollama/ollama/openai"
)

// Content types, exactly as Ollama sends them (golden transcripts).
const (
	ctJSON      = "application/json; charset=utf-8" // gin c.JSON: native API
	ctJSONPlain = "application/json"                // /v1 writers (middleware/openai.go)
	ctNDJSON    = "application/x-ndjson"
	ctSSE       = "text/event-stream"
)

// writeJSON is gin's c.JSON: json.Marshal (HTML-escaped, no newline).
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"`+err.Error()+`"}`)
	}
	// No Content-Length: net/http computes it for bodies under its 2 KiB
	// chunking buffer and chunks larger ones, exactly as under gin
	// (transcript 52_show is chunked, the small ones are not).
	w.Header().Set("Content-Type", ctJSON)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeJSONHead is writeJSON that sends only headers to HEAD.
func writeJSONHead(w http.ResponseWriter, r *http.Request, status int, v any) {
	if r.Method != http.MethodHead {
		writeJSON(w, status, v)
		return
	}
	b, _ := json.Marshal(v)
	h := w.Header()
	h.Set("Content-Type", ctJSON)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
}

// writeJSONNL is the /v1 writers' json.NewEncoder(w).Encode: a trailing
// newline and "application/json" without charset.
func writeJSONNL(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	w.Header().Set("Content-Type", ctJSONPlain)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// writeJSONError writes {"error": msg} the native way.
func writeJSONError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// nativeError answers a native endpoint's error and counts it.
func (s *Server) nativeError(w http.ResponseWriter, endpoint, model string, status int, msg string) {
	writeJSONError(w, status, msg)
	s.metrics.request(endpoint, model, status)
}

// openAIHandlerError is an error raised by Ollama's native handler behind a
// /v1 middleware: BaseWriter.writeError re-encodes it with type
// "api_error" whatever the status, as "application/json" with a newline
// (transcript 60_err_unknown_model_openai).
func (s *Server) openAIHandlerError(w http.ResponseWriter, endpoint, model string, status int, msg string) {
	writeJSONNL(w, status, openai.NewError(http.StatusInternalServerError, msg))
	s.metrics.request(endpoint, model, status)
}

// openAIBindError is an error raised by the /v1 middleware itself
// (c.AbortWithStatusJSON(code, openai.NewError(code, …))): the type
// follows the status, and it is gin's JSON.
func (s *Server) openAIBindError(w http.ResponseWriter, endpoint string, status int, msg string) {
	writeJSON(w, status, openai.NewError(status, msg))
	s.metrics.request(endpoint, "", status)
}

// sleep waits d or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// simpleFaults applies the request-level faults to a non-generating
// endpoint; false when the request has been answered (or dropped).
func (s *Server) simpleFaults(w http.ResponseWriter, r *http.Request, endpoint string, isOpenAI bool) bool {
	fired := s.faults.roll(r.URL.Path, "")
	if fired == nil {
		return true
	}
	p := makePlan(fired)
	if !s.preFaults(w, r, endpoint, "", isOpenAI, p) {
		return false
	}
	if p.cut != nil {
		panic(http.ErrAbortHandler) // close the connection, no answer
	}
	return true
}

// preFaults applies what happens before a request is handled: crash,
// latency, hang before the first byte, error status. A cut_stream on a
// request that writes no stream closes the connection with no answer.
func (s *Server) preFaults(w http.ResponseWriter, r *http.Request, endpoint, model string, isOpenAI bool, p plan) bool {
	if p.crash != nil {
		s.exit(p.crash.Status)
		return false
	}
	ctx := r.Context()
	if !sleep(ctx, p.latency) {
		return false
	}
	if p.hangFirst != nil {
		if *p.hangFirst == 0 {
			<-ctx.Done()
			return false
		}
		if !sleep(ctx, *p.hangFirst) {
			return false
		}
	}
	if f := p.errorFault; f != nil {
		if isOpenAI {
			s.openAIHandlerError(w, endpoint, model, f.Status, f.Message)
		} else {
			s.nativeError(w, endpoint, model, f.Status, f.Message)
		}
		return false
	}
	return true
}

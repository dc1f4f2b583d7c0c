package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
)

// Every failure the bridge answers itself goes through writeError, and every
// upstream failure through statusFor first: one funnel, so that a time-out is
// always a 504, a client that went away always a 499 (nginx's code, for logs
// and metrics; the client never sees it) and anything else a 502.

var (
	errFirstByteTimeout = errors.New("upstream sent no first byte within timeouts.first_byte")
	errIdleTimeout      = errors.New("upstream was silent longer than timeouts.idle")
	errWriteTimeout     = errors.New("client did not read the response within timeouts.write")
	errNoUpstream       = errors.New("no upstream available")
	errBodyTooLarge     = errors.New("request body too large")
	errBreakerOpen      = errors.New("circuit breaker refused the attempt")
)

// statusClientClosed is nginx's 499: the client went away first.
const statusClientClosed = 499

// DialError marks a failure to connect: nothing reached the upstream.
type DialError struct{ error }

func (e DialError) Unwrap() error { return e.error }

// RetryError collects every attempt's failure of a request that was given up.
type RetryError struct {
	Attempts []error
}

func (e *RetryError) Error() string {
	if len(e.Attempts) == 0 {
		return errNoUpstream.Error()
	}
	s := e.Attempts[len(e.Attempts)-1].Error()
	if len(e.Attempts) > 1 {
		s += " (after " + strconv.Itoa(len(e.Attempts)) + " attempts)"
	}
	return s
}

func (e *RetryError) Unwrap() []error { return e.Attempts }

// statusFor maps an error to the status the client gets.
func statusFor(err error) int {
	var ne net.Error
	switch {
	case errors.Is(err, errNoUpstream):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.Canceled):
		return statusClientClosed
	case errors.Is(err, errFirstByteTimeout), errors.Is(err, errIdleTimeout), errors.Is(err, errUpstreamDead),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway
}

// writeError answers in the route's protocol: Ollama's {"error":"…"} on the
// native API, OpenAI's {"error":{"message","type","param","code"}} on /v1.
func writeError(w http.ResponseWriter, openai bool, code int, msg string) {
	h := w.Header()
	var body []byte
	if openai {
		typ := "api_error"
		switch code {
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusMethodNotAllowed:
			typ = "invalid_request_error"
		case http.StatusNotFound:
			// Ollama's own /v1 answers "api_error" for an unknown model
			// (transcript 60); keep that rather than OpenAI's "not_found_error".
		}
		body, _ = json.Marshal(struct {
			Error openAIError `json:"error"`
		}{openAIError{Message: msg, Type: typ}})
		h.Set("Content-Type", "application/json")
	} else {
		body, _ = json.Marshal(struct {
			Error string `json:"error"`
		}{msg})
		h.Set("Content-Type", "application/json; charset=utf-8")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if code == statusClientClosed {
		return // nobody is listening
	}
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

type openAIError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// streamErrorLine is how a stream that already started ends when its
// upstream fails: one more line in the stream's own protocol.
func streamErrorLine(contentType string, msg string) ([]byte, bool) {
	switch {
	case hasPrefixFold(contentType, "text/event-stream"):
		b, _ := json.Marshal(struct {
			Error openAIError `json:"error"`
		}{openAIError{Message: msg, Type: "api_error"}})
		return append(append([]byte("data: "), b...), '\n', '\n'), true
	case hasPrefixFold(contentType, "application/x-ndjson"):
		b, _ := json.Marshal(struct {
			Error string `json:"error"`
		}{msg})
		return append(b, '\n'), true
	}
	return nil, false
}

func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

// errorMessage is the "error" of an Ollama error body, or the body itself,
// or the status when the body is empty.
func errorMessage(body []byte, status string) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return e.Error
	}
	if b := strings.TrimSpace(string(body)); b != "" {
		return b
	}
	return status
}

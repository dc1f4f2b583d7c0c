package conformance

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Request is one request of the corpus.
type Request struct {
	Name   string // names the step in failure messages
	Method string // GET when empty and Body is empty, POST otherwise
	Path   string
	Body   string            // sent as is; "" sends no body
	Header map[string]string // extra request headers (Origin, …)
	Note   string            // why this step is in the corpus
	// Until, when set, repeats the request (up to 5 s) until the body
	// contains it: for state that real Ollama changes asynchronously, such
	// as a model leaving /api/ps a moment after an unload answered.
	Until string
}

// Exchange is what a client saw of one request: the status, the headers
// and the whole body, plus how the body was framed.
type Exchange struct {
	Status  int
	Header  http.Header
	Chunked bool // Transfer-Encoding: chunked (a stream) rather than Content-Length
	Body    []byte
	Err     error         // a transport error instead of a response
	Elapsed time.Duration // until the body ended
	// HeaderAt and FirstByteAt are when the status line and the first body
	// byte arrived. Ollama sends a queued stream's headers with its first
	// token, which a bridge relies on to fail over before the first byte.
	HeaderAt, FirstByteAt time.Duration
}

// Send does r, repeating it while r.Until is set and not yet seen.
func Send(ctx context.Context, base string, r Request) Exchange {
	deadline := time.Now().Add(5 * time.Second)
	for {
		ex := Do(ctx, base, r)
		if r.Until == "" || bytes.Contains(ex.Body, []byte(r.Until)) || time.Now().After(deadline) || ctx.Err() != nil {
			return ex
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Do sends r to base (http://host:port) as a plain client would, with
// Connection: close as in the golden transcripts, and reads the whole body.
func Do(ctx context.Context, base string, r Request) Exchange {
	method := r.Method
	if method == "" {
		method = http.MethodGet
		if r.Body != "" {
			method = http.MethodPost
		}
	}
	var body io.Reader
	if r.Body != "" {
		body = strings.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+r.Path, body)
	if err != nil {
		return Exchange{Err: err}
	}
	if r.Body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.Header {
		req.Header.Set(k, v)
	}
	req.Close = true
	// A bare transport: no gzip negotiation, no connection reuse, so each
	// exchange is what a fresh client sees.
	client := &http.Client{Transport: &http.Transport{DisableCompression: true, DisableKeepAlives: true}}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return Exchange{Err: err}
	}
	defer resp.Body.Close()
	headerAt := time.Since(start)
	first := make([]byte, 1)
	n, err := io.ReadFull(resp.Body, first)
	firstAt := time.Since(start)
	var rest []byte
	if err == nil {
		rest, err = io.ReadAll(resp.Body)
	} else if err == io.EOF || err == io.ErrUnexpectedEOF {
		err = nil
	}
	return Exchange{
		Status:      resp.StatusCode,
		Header:      resp.Header,
		Chunked:     len(resp.TransferEncoding) > 0 && resp.TransferEncoding[0] == "chunked",
		Body:        append(first[:n], rest...),
		Err:         err,
		Elapsed:     time.Since(start),
		HeaderAt:    headerAt,
		FirstByteAt: firstAt,
	}
}

// String is a short summary for logs.
func (e Exchange) String() string {
	if e.Err != nil && e.Status == 0 {
		return "error: " + e.Err.Error()
	}
	b := e.Body
	if len(b) > 200 {
		b = append(bytes.Clone(b[:200]), "…"...)
	}
	return fmt.Sprintf("%d %s %q", e.Status, e.Header.Get("Content-Type"), b)
}

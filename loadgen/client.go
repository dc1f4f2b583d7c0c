package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// NewTransport returns an http.Transport tuned so the generator is not the
// bottleneck: HTTP/1.1 only (Ollama speaks it, and HTTP/2 would multiplex
// many streams on one connection and hide per-connection behaviour), idle
// connections kept for every request that can be in flight, no compression,
// and a dial time-out so a dead upstream fails fast as "connect".
func NewTransport(maxInFlight int) *http.Transport {
	if maxInFlight <= 0 {
		maxInFlight = DefaultMaxInFlight
	}
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:               nil, // never via a proxy: targets are loopback
		DialContext:         d.DialContext,
		ForceAttemptHTTP2:   false,
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{}, // no h2 even over TLS
		MaxIdleConns:        0,                                                      // no global cap
		MaxIdleConnsPerHost: maxInFlight,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		WriteBufferSize:     16 << 10,
		ReadBufferSize:      16 << 10,
	}
}

// Client sends Targets and measures their responses, reading NDJSON and SSE
// streams line by line to time each token.
type Client struct {
	HTTP    *http.Client  // nil: a client on NewTransport(DefaultMaxInFlight), made once
	Timeout time.Duration // whole request including the stream; 0: none

	once sync.Once
	bufs sync.Pool // *bufio.Reader, reused across responses
}

// maxLine bounds one stream line (a huge tool call or context array): past
// it the response is a bad body rather than unbounded memory.
const maxLine = 16 << 20

// Do sends t and returns its Result. intended is when it was due; the
// result's durations are measured from it. ctx cancels the request.
func (c *Client) Do(ctx context.Context, t *Target, intended time.Time) *Result {
	r := &Result{Name: t.Name, Endpoint: t.Endpoint, Intended: intended}
	c.once.Do(func() {
		if c.HTTP == nil {
			c.HTTP = &http.Client{Transport: NewTransport(DefaultMaxInFlight)}
		}
	})
	hc := c.HTTP
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, t.Method, t.URL, bytes.NewReader(t.Body))
	if err != nil {
		return c.fail(r, KindTransport, err)
	}
	req.Header.Set("Content-Type", "application/json")
	switch t.Format {
	case FormatNDJSON:
		req.Header.Set("Accept", "application/x-ndjson")
	case FormatSSE:
		req.Header.Set("Accept", "text/event-stream")
	}
	r.Sent = time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return c.fail(r, classify(ctx, err, false), err)
	}
	defer resp.Body.Close()
	r.Status = resp.StatusCode
	if resp.StatusCode != http.StatusOK {
		// Read (bounded) so the connection can be reused, and keep the message.
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		r.BytesIn = int64(len(b))
		kind := KindHTTPOther
		switch {
		case resp.StatusCode >= 400 && resp.StatusCode < 500:
			kind = KindHTTP4xx
		case resp.StatusCode >= 500 && resp.StatusCode < 600:
			kind = KindHTTP5xx
		}
		msg := errorText(jsonErrorField(b))
		if msg == "" {
			msg = string(bytes.TrimSpace(b))
		}
		return c.fail(r, kind, fmt.Errorf("%s: %s", resp.Status, msg))
	}
	br := c.reader(resp.Body)
	defer c.bufs.Put(br)
	if t.Format == FormatJSON {
		return c.readWhole(ctx, r, br)
	}
	return c.readStream(ctx, r, br, t.Format)
}

// readStream reads an NDJSON or SSE body line by line, timing every line
// that carries output.
func (c *Client) readStream(ctx context.Context, r *Result, br *bufio.Reader, f Format) *Result {
	var (
		last    time.Time
		counted int
		line    []byte
		done    bool
	)
	for {
		var err error
		line, err = readLine(br, line[:0])
		r.BytesIn += int64(len(line))
		if err != nil && err != io.EOF {
			// A read error leaves at most a truncated line: the stream was
			// cut (or timed out), whatever that fragment would parse as.
			if errors.Is(err, errLineTooLong) {
				return c.fail(r, KindBadBody, err)
			}
			return c.fail(r, classify(ctx, err, true), err)
		}
		if len(line) > 0 {
			now := time.Now()
			var ch Chunk
			var perr error
			if f == FormatSSE {
				ch, _, perr = ParseSSELine(line)
			} else {
				ch, perr = ParseNDJSONLine(line)
			}
			if perr != nil {
				c.drain(br)
				return c.fail(r, KindBadBody, perr)
			}
			if ch.Err != "" {
				c.drain(br)
				return c.fail(r, KindStreamError, errors.New(ch.Err))
			}
			if ch.Content {
				if counted == 0 {
					r.TTFT = now.Sub(r.Intended)
				} else {
					r.ITL = append(r.ITL, now.Sub(last))
				}
				last = now
				counted++
			}
			if ch.Tokens > 0 {
				r.OutputTokens = ch.Tokens
			}
			if ch.Done {
				// The response is complete at its final line, as a client
				// sees it; what follows (a blank line, the chunked
				// terminator) is drained untimed so the connection is reused.
				done = true
				r.Done = now
				c.drain(br)
				break
			}
		}
		if err == io.EOF {
			break
		}
	}
	if r.OutputTokens == 0 {
		r.OutputTokens = counted
	}
	r.NoDone = !done
	if !done {
		r.Done = time.Now()
	}
	r.Latency = r.Done.Sub(r.Intended)
	return r
}

// readWhole reads a non-streamed body (one JSON object).
func (c *Client) readWhole(ctx context.Context, r *Result, br *bufio.Reader) *Result {
	b, err := io.ReadAll(io.LimitReader(br, maxLine))
	r.BytesIn = int64(len(b))
	if err != nil {
		return c.fail(r, classify(ctx, err, true), err)
	}
	ch, err := ParseNDJSONLine(b)
	if err == nil && ch.Tokens == 0 && !ch.Content {
		// Not native-shaped: try the OpenAI shape (usage, choices).
		if oc, oerr := parseOpenAIObject(b); oerr == nil {
			ch.Tokens, ch.Content = oc.Tokens, oc.Content
			if ch.Err == "" {
				ch.Err = oc.Err
			}
		}
	}
	if err != nil {
		return c.fail(r, KindBadBody, err)
	}
	if ch.Err != "" {
		return c.fail(r, KindStreamError, errors.New(ch.Err))
	}
	r.OutputTokens = ch.Tokens
	r.Done = time.Now()
	r.Latency = r.Done.Sub(r.Intended)
	return r
}

func (c *Client) fail(r *Result, k ErrorKind, err error) *Result {
	r.Kind, r.Error = k, err.Error()
	r.Done = time.Now()
	r.Latency = r.Done.Sub(r.Intended)
	return r
}

// drain reads what is left of a body (bounded), so the connection is reused.
func (c *Client) drain(br *bufio.Reader) { _, _ = io.Copy(io.Discard, io.LimitReader(br, 1<<20)) }

func (c *Client) reader(body io.Reader) *bufio.Reader {
	if br, ok := c.bufs.Get().(*bufio.Reader); ok {
		br.Reset(body)
		return br
	}
	return bufio.NewReaderSize(body, 16<<10)
}

var errLineTooLong = errors.New("stream line longer than 16 MiB")

// readLine appends the next line (without its newline) to buf. At the end
// of the body it returns the last partial line with io.EOF.
func readLine(br *bufio.Reader, buf []byte) ([]byte, error) {
	for {
		frag, err := br.ReadSlice('\n')
		buf = append(buf, frag...)
		if len(buf) > maxLine {
			return buf, errLineTooLong
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if n := len(buf); n > 0 && buf[n-1] == '\n' {
			buf = buf[:n-1]
		}
		return buf, err
	}
}

// classify names the kind of a transport error. inBody is true once the
// response headers were read: a break then is a cut stream.
func classify(ctx context.Context, err error, inBody bool) ErrorKind {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		return KindTimeout
	case ctx.Err() != nil || errors.Is(err, context.Canceled):
		return KindCancelled
	case inBody:
		return KindStreamCut
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return KindConnect
	}
	return KindTransport
}

// jsonErrorField returns the "error" member of a JSON error body, or nil.
func jsonErrorField(b []byte) json.RawMessage {
	var m struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return m.Error
}

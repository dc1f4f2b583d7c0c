package bridge

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// connPool is one upstream's keep-alive HTTP/1.1 connections, used by the
// handler goroutine directly: it writes the request and reads the answer on
// the connection itself. net/http's Transport hands every exchange to two
// goroutines per connection (writeLoop, readLoop) and writes the headers and
// the body with two syscalls; on this kind of machine those hand-offs and
// syscalls were half of the bridge's CPU (pprof, see README). Here a request
// is one write syscall and a response usually one read.
//
// The price is that an idle connection the upstream closed is found only
// when it is next used; such a failure on a reused connection, before any
// answer byte, is retried once on a fresh connection and not held against
// the upstream (what Transport does for replayable requests).
type connPool struct {
	addr   string
	dialer *net.Dialer
	mu     sync.Mutex
	idle   []*upConn
	max    int
}

// upConn is one connection with its buffers.
type upConn struct {
	c      net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	reused bool
	// hdr is the last answer's header map, refilled by the next answer
	// parsed by hand (upresponse.go): whoever needs an answer's header
	// after the connection went back to the pool copies it first.
	hdr http.Header
}

func newConnPool(addr string, dial time.Duration) *connPool {
	return &connPool{addr: addr, dialer: &net.Dialer{Timeout: dial, KeepAlive: 30 * time.Second}, max: 1024}
}

// get pops the most recently used idle connection (LIFO keeps the working
// set warm and lets surplus ones age out) or dials.
func (p *connPool) get(ctx context.Context) (*upConn, error) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		c := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		c.reused = true
		return c, nil
	}
	p.mu.Unlock()
	return p.dial(ctx)
}

func (p *connPool) dial(ctx context.Context) (*upConn, error) {
	c, err := p.dialer.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, DialError{err}
	}
	sock := newRawSock(c)
	return &upConn{c: c, br: bufio.NewReaderSize(sock, 16<<10), bw: bufio.NewWriterSize(sock, 16<<10)}, nil
}

func (p *connPool) put(c *upConn) {
	p.mu.Lock()
	if len(p.idle) < p.max {
		p.idle = append(p.idle, c)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	c.c.Close()
}

// closeIdle closes every idle connection (an upstream left the pool).
func (p *connPool) closeIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, c := range idle {
		c.c.Close()
	}
}

// aLongTimeAgo is a deadline in the past: setting it wakes any blocked read
// or write at once.
var aLongTimeAgo = time.Unix(1, 0)

// writeRequest writes one request in one flush: request line, Host, the
// client's end-to-end headers, X-Request-Id, Content-Length, body. A
// non-empty traceparent (tracing on) replaces the client's trace headers
// with the attempt's; off, the client's pass through untouched.
func (c *upConn) writeRequest(r *http.Request, host, pathPrefix, id string, body []byte, traceparent, tracestate string) error {
	w := c.bw
	w.WriteString(r.Method)
	w.WriteByte(' ')
	w.WriteString(pathPrefix)
	w.WriteString(r.URL.EscapedPath())
	if r.URL.RawQuery != "" {
		w.WriteByte('?')
		w.WriteString(r.URL.RawQuery)
	}
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(host)
	w.WriteString("\r\n")
	for k, vs := range r.Header {
		if skipOutbound(k) || (traceparent != "" && (k == "Traceparent" || k == "Tracestate")) {
			continue
		}
		for _, v := range vs {
			// Values were parsed by net/http's server, which rejects CR
			// and LF: writing them verbatim cannot split the request.
			w.WriteString(k)
			w.WriteString(": ")
			w.WriteString(v)
			w.WriteString("\r\n")
		}
	}
	w.WriteString("X-Request-Id: ")
	w.WriteString(id)
	w.WriteString("\r\n")
	if traceparent != "" {
		w.WriteString("Traceparent: ")
		w.WriteString(traceparent)
		w.WriteString("\r\n")
		if tracestate != "" {
			w.WriteString("Tracestate: ")
			w.WriteString(tracestate)
			w.WriteString("\r\n")
		}
	}
	if len(body) > 0 || r.Method == http.MethodPost {
		w.WriteString("Content-Length: ")
		writeDecimal(w, len(body))
		w.WriteString("\r\n")
	}
	w.WriteString("\r\n")
	w.Write(body)
	return w.Flush()
}

// writeDecimal writes n (>= 0) in decimal. Through bufio's AvailableBuffer,
// so that no scratch array escapes to the heap.
func writeDecimal(w *bufio.Writer, n int) {
	if w.Available() < 20 {
		_ = w.Flush()
	}
	_, _ = w.Write(strconv.AppendInt(w.AvailableBuffer(), int64(n), 10))
}

// skipOutbound drops hop-by-hop headers and those the bridge sets itself.
func skipOutbound(k string) bool {
	switch k {
	case "Content-Length", "X-Request-Id", "Expect", "Host":
		return true
	}
	return isHopHeader(k)
}

// isStale reports whether err on a reused connection, before any answer
// byte, means the upstream had closed it while idle.
func isStale(c *upConn, err error) bool {
	if !c.reused || err == nil {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isConnReset(err)
}

func isConnReset(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && (oe.Op == "read" || oe.Op == "write")
}

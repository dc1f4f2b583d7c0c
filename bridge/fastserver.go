package bridge

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// fastServer serves HTTP/1.1 on the bridge's listener with one goroutine per
// connection and nothing else per request: no background-read goroutine, no
// context tree, no header clone. pprof of the bridge under wrk showed
// net/http's server machinery costing more CPU than the bridge's own work
// (issue 3's target is nginx's throughput); this is the part that replaces
// it, for the plain requests that are nearly all of an Ollama fleet's traffic.
//
// Anything outside the plain case (parseHead says which) is handed over,
// with the bytes already read, to a net/http server that owns the
// connection from then on: chunked or Expect bodies, HTTP/1.0, upgrades,
// heads larger than the read buffer, percent-encoded paths, malformed
// requests. So every error answer to a bad request is still net/http's own.
// TLS connections are net/http's from the start (HTTP/2 by ALPN needs the
// *tls.Conn itself). server.engine: net/http turns the fast path off.
type fastServer struct {
	handler http.Handler
	std     *http.Server // takes handed-over connections
	cfg     ServerConfig
	log     *slog.Logger

	handoff *handoffListener
	closing atomic.Bool
	mu      sync.Mutex
	ln      net.Listener
	conns   map[*fastConn]struct{}
	stdDone chan struct{}
	// dateCache holds the formatted Date header of the current second.
	dateCache atomic.Pointer[cachedDate]
}

// watchDelay is how long a request runs before its connection is watched
// for the client leaving (a one-byte read in the background, as net/http
// does for every request). Short requests never pay for it; a client that
// leaves a long generation is noticed within this delay, and the upstream
// call is cut (Ollama then stops generating).
const watchDelay = 100 * time.Millisecond

// Read buffer of a connection: a request head must fit in it to take the
// fast path (larger ones are net/http's, up to its MaxHeaderBytes).
const fastReadBuffer = 8 << 10

func newFastServer(h http.Handler, std *http.Server, cfg ServerConfig, log *slog.Logger) *fastServer {
	return &fastServer{handler: h, std: std, cfg: cfg, log: log, conns: map[*fastConn]struct{}{}}
}

// Serve accepts connections on ln until Shutdown or Close; like
// http.Server.Serve it returns http.ErrServerClosed then.
func (s *fastServer) Serve(ln net.Listener) error {
	s.mu.Lock()
	s.ln = ln
	s.handoff = newHandoffListener(ln.Addr())
	s.stdDone = make(chan struct{})
	s.mu.Unlock()
	go func() {
		defer close(s.stdDone)
		_ = s.std.Serve(s.handoff)
	}()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				// As net/http: back off on EMFILE and friends instead of spinning.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed; retrying", "error.message", err.Error(), "backoff", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		if _, ok := nc.(*tls.Conn); ok {
			// TLS is net/http's: it needs the *tls.Conn itself for
			// Request.TLS and for HTTP/2 by ALPN.
			if !s.handoff.push(nc) {
				_ = nc.Close()
				return http.ErrServerClosed
			}
			continue
		}
		c := s.newConn(nc)
		if !s.track(c) {
			_ = nc.Close()
			return http.ErrServerClosed
		}
		go c.serve()
	}
}

func (s *fastServer) track(c *fastConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *fastServer) untrack(c *fastConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// Shutdown stops accepting, closes idle connections and waits for active
// ones to finish their request (they close after it), until ctx ends.
func (s *fastServer) Shutdown(ctx context.Context) error {
	s.beginClose()
	stdErr := make(chan error, 1)
	go func() { stdErr <- s.std.Shutdown(ctx) }()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.closeIdle() == 0 {
			return <-stdErr
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Close cuts every connection at once.
func (s *fastServer) Close() error {
	s.beginClose()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.nc.Close()
	}
	s.mu.Unlock()
	return s.std.Close()
}

func (s *fastServer) beginClose() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Swap(true) {
		return
	}
	if s.ln != nil {
		_ = s.ln.Close()
	}
	if s.handoff != nil {
		s.handoff.Close()
	}
}

// closeIdle closes connections waiting for a request and returns how many
// connections are left.
func (s *fastServer) closeIdle() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.closeIfIdle()
	}
	return len(s.conns)
}

// fastConn is one client connection and everything reused across its
// requests.
type fastConn struct {
	srv    *fastServer
	nc     net.Conn
	remote string
	cr     connReader
	br     *bufio.Reader
	bw     *bufio.Writer
	body   fastBody
	resp   fastResponse
	// hdr is the last request's header map, cleared and refilled by the
	// next head: a request's header is not used once it has been served
	// (its values are new strings each time).
	hdr http.Header

	mu     sync.Mutex
	idle   bool
	closed bool

	// The client-gone watch (fastwatch.go).
	watch connWatch
}

func (s *fastServer) newConn(nc net.Conn) *fastConn {
	c := &fastConn{srv: s, nc: nc, remote: nc.RemoteAddr().String()}
	sock := newRawSock(nc)
	c.cr.sock = sock
	c.br = bufio.NewReaderSize(&c.cr, fastReadBuffer)
	c.bw = bufio.NewWriterSize(sock, 8<<10)
	c.body.c = c
	c.resp.c = c
	c.watch.init(c)
	return c
}

// setIdle marks the connection as waiting for a request: Shutdown may close
// it. It reports false when the server is already closing.
func (c *fastConn) setIdle(idle bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.idle = idle
	return !(idle && c.srv.closing.Load())
}

func (c *fastConn) closeIfIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.idle && !c.closed {
		c.closed = true
		_ = c.nc.Close()
	}
}

func (c *fastConn) close() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		_ = c.nc.Close()
	}
	c.mu.Unlock()
	c.srv.untrack(c)
}

// serve reads and answers requests until the client closes, asks to close,
// a request cannot be answered on this connection, or the server shuts
// down.
func (c *fastConn) serve() {
	first := true
	for {
		if !c.setIdle(true) {
			c.close()
			return
		}
		wait := c.srv.cfg.IdleTimeout
		if first || wait <= 0 {
			wait = c.srv.cfg.ReadHeaderTimeout
		}
		_ = c.nc.SetReadDeadline(time.Now().Add(wait))
		if _, err := c.br.Peek(1); err != nil {
			c.close()
			return
		}
		c.setIdle(false)
		first = false
		h, verdict, err := c.readHead()
		if err != nil {
			c.close()
			return
		}
		if verdict == headHandoff {
			c.handOff()
			return
		}
		_ = c.nc.SetReadDeadline(time.Time{})
		if !c.serveRequest(&h) {
			c.close()
			return
		}
	}
}

// readHead reads until a whole head is buffered and parses it. A head that
// came whole with its first bytes (nearly every one) needs no deadline of
// its own; one that needs more reads gets ReadHeaderTimeout from then on.
// Deadlines are runtime timer operations under a lock: the serve loop sets
// one and clears it per request, no more.
func (c *fastConn) readHead() (reqHead, headVerdict, error) {
	deadline := false
	for {
		buf, _ := c.br.Peek(c.br.Buffered())
		n, v := scanHead(buf)
		switch v {
		case headHandoff:
			return reqHead{}, headHandoff, nil
		case headComplete:
			h, ok := parseHead(buf[:n], c.hdr)
			if !ok {
				return reqHead{}, headHandoff, nil
			}
			c.hdr = reuseHeader(h.header)
			_, _ = c.br.Discard(n)
			return h, headComplete, nil
		}
		if c.br.Buffered() == c.br.Size() {
			return reqHead{}, headHandoff, nil // larger than the fast path's buffer
		}
		if !deadline {
			deadline = true
			_ = c.nc.SetReadDeadline(time.Now().Add(c.srv.cfg.ReadHeaderTimeout))
		}
		if _, err := c.br.Peek(c.br.Buffered() + 1); err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return reqHead{}, 0, err
		}
	}
}

// handOff gives the connection, and the bytes read from it so far, to
// net/http.
func (c *fastConn) handOff() {
	buffered, _ := c.br.Peek(c.br.Buffered())
	prefix := append(c.cr.takeStash(), buffered...)
	c.srv.untrack(c)
	_ = c.nc.SetReadDeadline(time.Time{})
	if !c.srv.handoff.push(&prefixConn{Conn: c.nc, prefix: prefix}) {
		_ = c.nc.Close()
	}
}

// serveRequest runs the handler for one request and finishes the response.
// It reports whether the connection can carry another request.
func (c *fastConn) serveRequest(h *reqHead) (keep bool) {
	box := &fastRequest{url: url.URL{Path: h.path, RawQuery: h.query}}
	rc := &box.ctx
	var blank http.Request // WithContext copies it: it stays on the stack
	r := blank.WithContext(rc)
	r.Method = h.method
	r.URL = &box.url
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	r.Header = h.header
	r.Host = h.host
	r.RemoteAddr = c.remote
	r.RequestURI = h.target
	r.ContentLength = h.contentLength
	r.Close = h.close
	if h.contentLength > 0 {
		c.body.reset(h.contentLength, rc)
		r.Body = &c.body
	} else {
		r.Body = http.NoBody
		c.watch.arm(rc)
	}
	c.resp.reset(r)

	aborted := c.runHandler(r)
	c.watch.stop()
	rc.cancel(context.Canceled)
	if aborted {
		return false
	}
	if err := c.resp.finish(); err != nil {
		return false
	}
	// A body the handler left unread: the connection is not at a request
	// boundary. (The bridge reads every body it forwards, and marks the
	// error paths "Connection: close".)
	if c.body.remaining() > 0 || c.resp.closeAfter || h.close || c.srv.closing.Load() {
		return false
	}
	return !rc.clientGone()
}

// runHandler calls the handler, turning a panic into a cut connection as
// net/http does (http.ErrAbortHandler silently, anything else logged).
func (c *fastConn) runHandler(r *http.Request) (aborted bool) {
	defer func() {
		if p := recover(); p != nil {
			aborted = true
			if p != http.ErrAbortHandler {
				c.srv.log.Error("panic serving request", "client.address", c.remote, "url.path", r.URL.Path,
					"error.message", fmt.Sprint(p), "error.stack_trace", string(debug.Stack()))
			}
		}
	}()
	c.srv.handler.ServeHTTP(&c.resp, r)
	return false
}

// fastRequest holds a request's context and URL in one allocation. The
// *http.Request itself is WithContext's own (the only way to set a
// context), so it is not in here.
type fastRequest struct {
	ctx reqCtx
	url url.URL
}

// connReader reads the connection, first giving back a byte the watch
// (fastwatch.go) read while it looked for the client leaving.
type connReader struct {
	sock    io.Reader // the connection (rawsock.go)
	mu      sync.Mutex
	stash   [1]byte
	stashed bool
}

func (r *connReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	if r.stashed && len(p) > 0 {
		p[0] = r.stash[0]
		r.stashed = false
		r.mu.Unlock()
		return 1, nil
	}
	r.mu.Unlock()
	return r.sock.Read(p)
}

func (r *connReader) putStash(b byte) {
	r.mu.Lock()
	r.stash[0], r.stashed = b, true
	r.mu.Unlock()
}

func (r *connReader) takeStash() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.stashed {
		return nil
	}
	r.stashed = false
	return []byte{r.stash[0]}
}

// prefixConn replays bytes already read before the connection's own.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// handoffListener is the net/http server's listener: it yields the
// connections the fast server hands over.
type handoffListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newHandoffListener(addr net.Addr) *handoffListener {
	return &handoffListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *handoffListener) push(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }

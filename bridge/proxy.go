package bridge

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// serveProxy is the hot path: read the body (bounded, kept for retries),
// peek model and stream, pick an upstream, forward, retry before the first
// byte. No per-request goroutine; timers only for streams.
//
// It does not use httputil.ReverseProxy: its ErrorHandler runs after an
// attempt is lost and cannot re-send the request elsewhere, and it commits
// the response headers before the first body byte, which would rule out a
// retry when an upstream hangs between headers and first token.
func (h *Handler) serveProxy(w http.ResponseWriter, r *http.Request, rt *route, id string, start time.Time) {
	st := h.state.Load()
	req := h.reqPool.Get().(*request)
	*req = request{route: rt, id: id, buf: req.buf} // keep the buffer's capacity
	req.buf.Reset()
	defer h.release(req)

	if rt.kind == kindModel {
		rc := http.NewResponseController(w)
		// Issue golang/go#40747: without full duplex the server may close a
		// streamed POST's connection. Cheap: it sets a flag.
		_ = rc.EnableFullDuplex()
		if code, err := h.readBody(rc, r, req, st.cfg.Server); err != nil {
			writeError(w, rt.openai, code, err.Error())
			h.finish(r, rt, id, "", code, start, nil, 0, err)
			return
		}
		p, err := peekBody(req.body)
		if err != nil {
			writeError(w, rt.openai, http.StatusBadRequest, err.Error())
			h.finish(r, rt, id, "", http.StatusBadRequest, start, nil, 0, err)
			return
		}
		if p.model == "" {
			writeError(w, rt.openai, http.StatusBadRequest, "model is required")
			h.finish(r, rt, id, "", http.StatusBadRequest, start, nil, 0, errors.New("model is required"))
			return
		}
		req.rawModel, req.model = p.model, normalizeModel(p.model)
		req.stream = rt.streams
		if p.streamSet {
			req.stream = p.stream
		}
		if a := st.cfg.Affinity; a.Header != "" || a.PromptPrefixBytes > 0 {
			if v := r.Header.Get(a.Header); a.Header != "" && v != "" {
				req.hasAffinity, req.affinity = true, fnv64a([]byte(v))
			} else if a.PromptPrefixBytes > 0 && len(p.prompt) > 0 {
				n := min(len(p.prompt), a.PromptPrefixBytes)
				req.hasAffinity, req.affinity = true, fnv64a(p.prompt[:n])
			}
		}
		if st.pool.fleetTier(req.model) < 0 {
			// Nobody is known to have it; maybe it was just pulled.
			st.pool.refreshOnMiss(r.Context(), start.UnixNano())
			if st.pool.fleetTier(req.model) < 0 {
				msg := "model '" + p.model + "' not found"
				writeError(w, rt.openai, http.StatusNotFound, msg)
				h.finish(r, rt, id, "unknown", http.StatusNotFound, start, nil, 0, errors.New(msg))
				return
			}
		}
	}
	st.budget.onRequest()
	h.forward(w, r, st, req, start)
}

// readBody reads the whole request body into the request's pooled buffer,
// at most MaxBodyBytes (413 past it) and within ReadBodyTimeout (a slow
// client is cut, 408).
func (h *Handler) readBody(rc *http.ResponseController, r *http.Request, req *request, sc ServerConfig) (int, error) {
	if r.ContentLength > sc.MaxBodyBytes {
		return http.StatusRequestEntityTooLarge, errBodyTooLarge
	}
	if r.ContentLength > 0 {
		req.buf.Grow(int(r.ContentLength) + 1)
	}
	_ = rc.SetReadDeadline(h.clock().Add(sc.ReadBodyTimeout))
	_, err := req.buf.ReadFrom(io.LimitReader(r.Body, sc.MaxBodyBytes+1))
	_ = rc.SetReadDeadline(time.Time{})
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return http.StatusRequestTimeout, errors.New("request body not received within server.read_body_timeout")
		}
		return http.StatusBadRequest, err
	}
	if int64(req.buf.Len()) > sc.MaxBodyBytes {
		return http.StatusRequestEntityTooLarge, errBodyTooLarge
	}
	req.body = req.buf.Bytes()
	return 0, nil
}

func (h *Handler) release(req *request) {
	if req.openBodies.Load() != 0 || req.buf.Cap() > 1<<20 {
		return // the transport may still read it, or it is too big to keep
	}
	req.route, req.body, req.tried = nil, nil, [8]*Upstream{}
	h.reqPool.Put(req)
}

// forward runs the attempts. Each failure before the first byte is retried
// on an upstream not yet tried, within retry.max_attempts and the retry
// budget; the last failure is answered through the error funnel.
func (h *Handler) forward(w http.ResponseWriter, r *http.Request, st *state, req *request, start time.Time) {
	var errs []error
	var kept *keptResponse
	attempts := 0
	for {
		u := st.pool.pick(req)
		if u == nil {
			break
		}
		req.markTried(u)
		res := h.attempt(w, r, st, req, u, start)
		if res.skip {
			continue // breaker refused: not an attempt
		}
		attempts++
		if !res.retry {
			if attempts > 1 && res.code < 400 {
				h.metrics.failovers.Inc()
			}
			h.finish(r, req.route, req.id, h.modelLabel(st, req), res.code, start, u, attempts, res.err)
			if res.abort {
				panic(http.ErrAbortHandler)
			}
			return
		}
		errs = append(errs, res.err)
		if res.kept != nil {
			kept = res.kept
		}
		if attempts >= st.cfg.Retry.MaxAttempts {
			break
		}
		if !st.budget.withdraw() {
			h.metrics.budgetDenied.Inc()
			break
		}
		h.metrics.retries.Inc()
	}
	// Given up. Relay the last upstream answer if there was one (a 503
	// "server busy" says more than our 502), else our own error.
	code := 0
	var err error = &RetryError{Attempts: errs}
	if len(errs) == 0 {
		err = errNoUpstream
	}
	if kept != nil {
		code = kept.status
		kept.writeTo(w)
	} else {
		code = statusFor(err)
		writeError(w, req.route.openai, code, err.Error())
	}
	var last *Upstream
	if req.nTried > 0 {
		last = req.tried[(req.nTried-1)%len(req.tried)]
	}
	h.finish(r, req.route, req.id, h.modelLabel(st, req), code, start, last, attempts, err)
}

// modelLabel bounds the model label by what the fleet lists.
func (h *Handler) modelLabel(st *state, req *request) string {
	if req.model == "" {
		return ""
	}
	if st.pool.fleetTier(req.model) >= 1 {
		return req.model
	}
	return "unknown"
}

// keptResponse is a retryable upstream answer (5xx, a stale 404) held back
// in case no other upstream does better.
type keptResponse struct {
	status int
	header http.Header
	body   []byte
}

func (k *keptResponse) writeTo(w http.ResponseWriter) {
	copyHeader(w.Header(), k.header)
	w.Header().Del("Content-Length")
	w.WriteHeader(k.status)
	_, _ = w.Write(k.body)
}

// attemptResult says how one attempt ended.
type attemptResult struct {
	retry bool // nothing written to the client; try elsewhere
	skip  bool // the breaker refused before anything was sent
	abort bool // the response was cut after headers; abort the connection
	code  int  // the status the client got (when !retry)
	err   error
	kept  *keptResponse
}

// bodyReader is an attempt's view of the kept request body. It tells the
// request when the transport is done with it, so the buffer can be reused.
type bodyReader struct {
	bytes.Reader
	req    *request
	closed bool
}

func (b *bodyReader) Close() error {
	if !b.closed {
		b.closed = true
		b.req.openBodies.Add(-1)
	}
	return nil
}

// attempt sends req to u once and, if u answers usefully, relays the answer.
func (h *Handler) attempt(w http.ResponseWriter, r *http.Request, st *state, req *request, u *Upstream, start time.Time) attemptResult {
	done, ok := u.brk.allow()
	if !ok {
		return attemptResult{retry: true, skip: true, err: errBreakerOpen}
	}
	u.inFlight.Add(1)
	defer u.inFlight.Add(-1)

	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	// Re-send if health checks declare u dead before we write anything.
	stopDead := context.AfterFunc(u.dead.Load().ctx, func() { cancel(errUpstreamDead) })
	defer stopDead()
	var timer *time.Timer
	if req.stream {
		timer = time.AfterFunc(st.cfg.Timeouts.FirstByte, func() { cancel(errFirstByteTimeout) })
		defer timer.Stop()
	}

	out, err := http.NewRequestWithContext(ctx, r.Method, "", nil)
	if err != nil {
		done(true)
		return attemptResult{code: http.StatusInternalServerError, err: err}
	}
	out.URL = &url.URL{Scheme: u.target.Scheme, Host: u.target.Host, Path: u.target.Path + r.URL.Path, RawQuery: r.URL.RawQuery}
	out.Host = u.target.Host
	out.Header = make(http.Header, len(r.Header)+1)
	copyHeader(out.Header, r.Header)
	out.Header["X-Request-Id"] = []string{req.id}
	if len(req.body) > 0 {
		br := &bodyReader{req: req}
		br.Reset(req.body)
		req.openBodies.Add(1)
		out.Body, out.ContentLength = br, int64(len(req.body))
	}

	upStart := h.clock()
	resp, err := h.transport.RoundTrip(out)
	if err != nil {
		if r.Context().Err() != nil {
			done(true) // the client left; not the upstream's fault
			u.m.canceled.Inc()
			return attemptResult{code: statusClientClosed, err: r.Context().Err()}
		}
		if cause := context.Cause(ctx); cause != nil && cause != context.Canceled {
			err = cause
		} else if isDialError(err) {
			err = DialError{err}
		}
		done(false)
		u.recordFailure(h.clock().UnixNano())
		return attemptResult{retry: true, err: &upstreamError{u.name, err}}
	}

	// Answers that another upstream may do better on.
	switch {
	case resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
		k := keep(resp)
		done(false)
		u.recordFailure(h.clock().UnixNano())
		return attemptResult{retry: true, kept: k,
			err: &upstreamError{u.name, errors.New(resp.Status + ": " + strings.TrimSpace(string(k.body)))}}
	case resp.StatusCode == http.StatusNotFound && req.model != "":
		// Our model knowledge was stale: forget it for u and try another.
		// The request is not at fault and neither is u.
		k := keep(resp)
		done(true)
		u.forgetModel(req.model)
		u.m.clientError.Inc()
		return attemptResult{retry: true, kept: k, err: &upstreamError{u.name, errors.New(strings.TrimSpace(string(k.body)))}}
	}
	return h.relay(w, r, st, req, u, resp, ctx, cancel, timer, stopDead, done, start, upStart)
}

// keep reads a small answer to hold back (bounded: error bodies are short).
func keep(resp *http.Response) *keptResponse {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
	resp.Body.Close()
	return &keptResponse{status: resp.StatusCode, header: resp.Header, body: body}
}

// upstreamError names the upstream an attempt failed on.
type upstreamError struct {
	upstream string
	err      error
}

func (e *upstreamError) Error() string { return e.upstream + ": " + e.err.Error() }
func (e *upstreamError) Unwrap() error { return e.err }

func isDialError(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
}

// hopHeaders are per-connection (RFC 9110 §7.6.1) and never forwarded.
func isHopHeader(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// copyHeader copies end-to-end headers. The value slices are shared: neither
// side modifies them.
func copyHeader(dst, src http.Header) {
	for k, v := range src {
		if !isHopHeader(k) {
			dst[k] = v
		}
	}
}

// forgetModel drops model from u's known set after u said it has not got it.
func (u *Upstream) forgetModel(model string) {
	old := u.models.Load()
	if old == nil {
		return
	}
	ms := &modelSet{known: old.known, onDisk: map[string]struct{}{}, loaded: map[string]struct{}{}}
	for k := range old.onDisk {
		if k != model {
			ms.onDisk[k] = struct{}{}
		}
	}
	for k := range old.loaded {
		if k != model {
			ms.loaded[k] = struct{}{}
		}
	}
	u.models.CompareAndSwap(old, ms)
}

package bridge

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
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
func (h *Handler) serveProxy(w http.ResponseWriter, r *http.Request, rt *route, id string, start time.Time, who identity) {
	st := h.state.Load()
	req := h.reqPool.Get().(*request)
	*req = request{route: rt, id: id, buf: req.buf, who: who, tenant: who.tenant()} // keep the buffer's capacity
	req.buf.Reset()
	defer h.release(req)
	if h.tracing != nil {
		h.tracing.startServer(r, rt, req)
	}

	if rt.kind == kindModel {
		rc := http.NewResponseController(w)
		// Issue golang/go#40747: without full duplex the server may close a
		// streamed POST's connection. Cheap: it sets a flag.
		_ = rc.EnableFullDuplex()
		if code, err := h.readBody(rc, r, req, st.cfg.Server); err != nil {
			// The rest of the body is unread: the connection cannot carry
			// another request, and must not wait for a slow client either.
			w.Header().Set("Connection", "close")
			writeError(w, rt.openai, code, err.Error())
			h.done(r, req, "", code, start, nil, 0, err, 0)
			return
		}
		p, err := peekBody(req.body)
		if err != nil {
			writeError(w, rt.openai, http.StatusBadRequest, err.Error())
			h.done(r, req, "", http.StatusBadRequest, start, nil, 0, err, 0)
			return
		}
		if p.model == "" && rt.nameAlias {
			p.model = p.name
		}
		if p.model == "" {
			writeError(w, rt.openai, http.StatusBadRequest, "model is required")
			h.done(r, req, "", http.StatusBadRequest, start, nil, 0, errors.New("model is required"), 0)
			return
		}
		req.rawModel, req.model = p.model, normalizeModel(p.model)
		req.stream = rt.streams
		if p.streamSet {
			req.stream = p.stream
		}
		if h.guard != nil {
			if rj := h.guard.checkRequest(w, r, rt, req, &p); rj != nil {
				h.done(r, req, "", rj.code, start, nil, 0, rj.err, 0)
				return
			}
		}
		if a := st.cfg.Affinity; a.Header != "" || a.PromptPrefixBytes > 0 {
			if v := r.Header.Get(a.Header); a.Header != "" && v != "" {
				req.hasAffinity, req.affinity = true, fnv64a([]byte(v))
			} else if a.PromptPrefixBytes > 0 && len(p.prompt) > 0 {
				n := min(len(p.prompt), a.PromptPrefixBytes)
				req.hasAffinity, req.affinity = true, fnv64a(p.prompt[:n])
			}
		}
		req.tier = st.pool.fleetTier(req.model)
		if req.tier < 0 {
			// Nobody is known to have it; maybe it was just pulled.
			st.pool.refreshOnMiss(r.Context(), start.UnixNano())
			if req.tier = st.pool.fleetTier(req.model); req.tier < 0 {
				msg := "model '" + p.model + "' not found"
				writeError(w, rt.openai, http.StatusNotFound, msg)
				h.done(r, req, "unknown", http.StatusNotFound, start, nil, 0, errors.New(msg), 0)
				return
			}
		}
	}
	if h.cache != nil && rt.kind == kindModel && h.serveCached(w, r, st, req, start) {
		return
	}
	st.budget.onRequest()
	h.call(w, r, st, req, start)
}

// call sends req upstream: merged with others into one embedding call when
// batching is on and req can be batched (batch.go), else on its own.
func (h *Handler) call(w http.ResponseWriter, r *http.Request, st *state, req *request, start time.Time) {
	if h.batcher != nil && req.route.batchable() && h.serveBatched(w, r, st, req, start) {
		return
	}
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
	// A body the server already holds whole (the fast server's, nearly
	// always) cannot stall: no deadline to set and clear.
	b, ok := r.Body.(interface{ Buffered() bool })
	timed := !ok || !b.Buffered()
	if timed {
		_ = rc.SetReadDeadline(h.clock().Add(sc.ReadBodyTimeout))
	}
	// A plain read loop rather than ReadFrom(io.LimitReader(…)): the
	// limited reader would be one heap allocation per request.
	var err error
	for int64(req.buf.Len()) <= sc.MaxBodyBytes {
		if req.buf.Available() == 0 {
			req.buf.Grow(4096)
		}
		b := req.buf.AvailableBuffer()
		b = b[:min(int64(cap(b)), sc.MaxBodyBytes+1-int64(req.buf.Len()))]
		var n int
		n, err = r.Body.Read(b)
		req.buf.Write(b[:n])
		if err != nil {
			break
		}
	}
	if err == io.EOF {
		err = nil
	}
	if err != nil {
		// The deadline stays: net/http would otherwise wait for the slow
		// client to send the rest of the body before closing.
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return http.StatusRequestTimeout, errors.New("request body not received within server.read_body_timeout")
		}
		return http.StatusBadRequest, err
	}
	if int64(req.buf.Len()) > sc.MaxBodyBytes {
		return http.StatusRequestEntityTooLarge, errBodyTooLarge
	}
	if timed {
		_ = rc.SetReadDeadline(time.Time{})
	}
	req.body = req.buf.Bytes()
	return 0, nil
}

// done ends the request's server span, if tracing, and records it (finish).
func (h *Handler) done(r *http.Request, req *request, model string, code int, start time.Time, u *Upstream, attempts int, err error, outTokens int64) {
	if req.sub != nil {
		*req.sub = subResult{code: code, u: u, attempts: attempts, err: err}
		return
	}
	if req.span != nil {
		endServer(req.span, req.rawModel, code, attempts, req.inTokens, outTokens, err)
	}
	if req.tokIP != 0 || req.tokCred != 0 {
		h.guard.settle(req, code, req.inTokens, outTokens)
	}
	h.finish(r, req.route, req.id, model, code, start, u, attempts, err, req.span)
}

func (h *Handler) release(req *request) {
	if req.buf.Cap() > 1<<20 {
		return // too big to keep around
	}
	req.route, req.body, req.tried = nil, nil, [8]*Upstream{}
	req.span, req.spanCtx, req.attemptSpan = nil, nil, nil
	req.capture, req.sub = nil, nil
	h.reqPool.Put(req)
}

// forward runs the attempts. Each failure before the first byte is retried
// on an upstream not yet tried, within retry.max_attempts and the retry
// budget; the last failure is answered through the error funnel.
func (h *Handler) forward(w http.ResponseWriter, r *http.Request, st *state, req *request, start time.Time) {
	var errs []error
	var kept *keptResponse
	attempts := 0
	// Bounded: every pass either makes an attempt (at most MaxAttempts) or
	// skips an upstream whose breaker refused (at most one per upstream).
	for pass := 0; pass < len(st.pool.all)+st.cfg.Retry.MaxAttempts; pass++ {
		u := st.pool.pick(req)
		forced := false
		if u == nil {
			if attempts > 0 {
				break
			}
			// Nobody is available, or every breaker refused: never refuse
			// without trying once (fallback.go).
			if u = st.pool.pickFallback(req); u == nil {
				break
			}
			forced = true
			h.metrics.fallbacks.Inc()
		}
		req.markTried(u)
		res := h.attempt(w, r, st, req, u, start, forced)
		if req.attemptSpan != nil {
			endAttempt(req, &res)
		}
		if res.skip {
			continue // breaker refused: not an attempt
		}
		attempts++
		if !res.retry {
			req.inTokens = max(req.inTokens, res.inTokens)
			if attempts > 1 && res.code < 400 {
				h.metrics.failovers.Inc()
			}
			h.done(r, req, h.modelLabel(st, req), res.code, start, u, attempts, res.err, res.outTokens)
			if res.abort {
				panic(http.ErrAbortHandler)
			}
			return
		}
		errs = append(errs, res.err)
		if res.kept != nil {
			kept = res.kept
		}
		if forced || attempts >= st.cfg.Retry.MaxAttempts {
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
	h.done(r, req, h.modelLabel(st, req), code, start, last, attempts, err, 0)
}

// modelLabel bounds the model label by what the fleet lists. A model listed
// when the request was routed keeps its label; otherwise (or when the
// request was not routed here: tier 0) the fleet is asked again, since the
// first polls may have come in since.
func (h *Handler) modelLabel(st *state, req *request) string {
	if req.model == "" {
		return ""
	}
	if req.tier >= 1 || st.pool.fleetTier(req.model) >= 1 {
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
	// outTokens: generated tokens the relay saw (eval_count,
	// completion_tokens), for the trace.
	outTokens int64
	// inTokens: prompt tokens the answer reported (prompt_eval_count,
	// prompt_tokens), scanned only when tracing is on.
	inTokens int64
}

// attempt sends req to u once and, if u answers usefully, relays the answer.
// A forced attempt (the all-down fallback, fallback.go) goes through even if
// u's breaker refuses, and a success forgives u.
func (h *Handler) attempt(w http.ResponseWriter, r *http.Request, st *state, req *request, u *Upstream, start time.Time, forced bool) attemptResult {
	done, ok := u.brk.Load().allow()
	if !ok {
		if !forced {
			return attemptResult{retry: true, skip: true, err: errBreakerOpen}
		}
		done = ignoreOutcome
	}
	if forced {
		brkDone := done
		done = func(err error) {
			brkDone(err)
			if err == nil {
				u.forgive()
			}
		}
	}
	if h.tracing != nil && req.span != nil {
		h.tracing.startAttempt(r, req, u, forced)
	}
	u.inFlight.Add(1)
	defer u.inFlight.Add(-1)

	upStart := h.clock()
	x, err := h.exchange(r, st, req, u)
	if err != nil {
		return h.attemptFailed(r, u, x, err, errFirstByteTimeout, done)
	}
	resp := x.resp
	// Answers that another upstream may do better on.
	switch {
	case resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
		k := x.keep()
		done(errAttemptFailed)
		u.recordFailure(h.clock().UnixNano(), reasonStatus)
		return attemptResult{retry: true, kept: k,
			err: &upstreamError{u.name, errors.New(resp.Status + ": " + strings.TrimSpace(string(k.body)))}}
	case resp.StatusCode == http.StatusNotFound && req.model != "":
		// Our model knowledge was stale: forget it for u and try another.
		// The request is not at fault and neither is u.
		k := x.keep()
		done(nil)
		u.forgetModel(req.model)
		u.m.clientError.Inc()
		return attemptResult{retry: true, kept: k, err: &upstreamError{u.name, errors.New(strings.TrimSpace(string(k.body)))}}
	}
	return h.relay(w, r, st, req, u, x, done, start, upStart)
}

// exchange is one request/response on a connection of u: it returns once the
// response headers are read. The connection is poisoned (deadline in the
// past) if the client leaves or the health checks declare u dead, which
// wakes a blocked read at once; a streamed request also gets the first-byte
// deadline. A reused connection found closed is replaced once.
func (h *Handler) exchange(r *http.Request, st *state, req *request, u *Upstream) (*exchange, error) {
	// The request's own exchange: one attempt at a time uses it, and
	// nothing keeps it once the attempt ended (the watches hold the
	// connection, not the exchange).
	x := &req.x
	for try := 0; try < 2; try++ {
		*x = exchange{u: u, dead: u.dead.Load()}
		uc, err := u.conns.get(r.Context())
		if err != nil {
			return x, err
		}
		x.uc = uc
		if rc, ok := r.Context().(*reqCtx); ok {
			// The fast server's context: a slot, no allocation.
			rc.poisonOnDone(uc.c)
			x.client = rc
		} else {
			x.stopClient = context.AfterFunc(r.Context(), func() { _ = uc.c.SetDeadline(aLongTimeAgo) })
		}
		x.dead.watch(uc.c)
		if req.stream {
			x.deadline = true
			_ = uc.c.SetReadDeadline(h.clock().Add(st.cfg.Timeouts.FirstByte))
		}
		err = uc.writeRequest(r, u.target.Host, u.target.Path, req.id, req.body, req.traceparent, req.tracestate)
		if err == nil {
			_, err = uc.br.Peek(1)
		}
		if err == nil {
			x.resp, err = x.readResponse(uc.br, r.Method)
			if err == nil {
				return x, nil
			}
		}
		x.close()
		if try == 1 || !isStale(uc, err) || r.Context().Err() != nil || x.dead.err() != nil {
			// x (closed) goes back too: attemptFailed reads its dead signal
			// to name the cause.
			return x, err
		}
	}
	return x, errors.New("unreachable")
}

// exchange is one attempt's connection and response.
type exchange struct {
	u          *Upstream
	uc         *upConn
	resp       *http.Response
	dead       *deadSignal
	stopClient func() bool // net/http's request context
	client     *reqCtx     // or the fast server's (fastctx.go)
	deadline   bool        // a read deadline is set and must be cleared before reuse
	detached   bool        // dead.unwatch already called
	poisoned   bool        // a poison deadline fired: never reuse
	// The answer, when parsed by hand (upresponse.go): no allocation.
	respBuf   http.Response
	lenBody   lengthBody
	chunkBody chunkedBody
}

// detachDead stops the health checks from cutting this exchange (once the
// client owns the answer). It remembers whether the cut already happened.
func (x *exchange) detachDead() {
	if !x.detached {
		x.detached = true
		if !x.dead.unwatch(x.uc.c) {
			x.poisoned = true
		}
	}
}

// detachClient stops the client's leaving from cutting this exchange. It
// reports false when the cut already happened.
func (x *exchange) detachClient() bool {
	if x.client != nil {
		return x.client.stopPoison(x.uc.c)
	}
	return x.stopClient()
}

// close drops the connection: after an error or an unfinished body.
func (x *exchange) close() {
	if x.uc == nil {
		return
	}
	x.detachClient()
	x.detachDead()
	x.uc.c.Close()
	if x.resp != nil {
		x.resp.Body.Close() // cheap now: the connection is closed
	}
	x.uc = nil
}

// release returns the connection to the pool after its body was read to
// EOF, unless the upstream asked to close it or a poison deadline fired.
func (x *exchange) release() {
	if x.uc == nil {
		return
	}
	okClient := x.detachClient()
	x.detachDead()
	if !okClient || x.poisoned || x.resp.Close {
		x.close()
		return
	}
	x.resp.Body.Close()
	if x.deadline {
		_ = x.uc.c.SetReadDeadline(time.Time{})
	}
	x.u.conns.put(x.uc)
	x.uc = nil
}

// keep reads a small answer to hold back (bounded: error bodies are short).
func (x *exchange) keep() *keptResponse {
	body, err := io.ReadAll(io.LimitReader(x.resp.Body, 16<<10))
	// A copy: the header map goes back to the pool with the connection.
	k := &keptResponse{status: x.resp.StatusCode, header: x.resp.Header.Clone(), body: body}
	if err == nil && len(body) < 16<<10 {
		x.release()
	} else {
		x.close()
	}
	return k
}

// upstreamError names the upstream an attempt failed on.
type upstreamError struct {
	upstream string
	err      error
}

func (e *upstreamError) Error() string { return e.upstream + ": " + e.err.Error() }
func (e *upstreamError) Unwrap() error { return e.err }

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

package bridge

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"time"
)

// relay copies an upstream answer to the client. The headers are committed
// only once the first body byte has arrived, so a response that dies before
// it can still be re-sent elsewhere. A streamed answer (no Content-Length:
// Ollama's NDJSON, OpenAI's SSE) is flushed chunk by chunk and read under an
// idle bound (a read deadline, no timer); no total time-out. Back-pressure is
// the client's: the next chunk is read only after the last one was written.
func (h *Handler) relay(w http.ResponseWriter, r *http.Request, st *state, req *request, u *Upstream,
	x *exchange, done func(error), start, upStart time.Time) attemptResult {
	resp := x.resp
	bp := h.bufPool.Get().(*[]byte)
	defer h.bufPool.Put(bp)
	buf := *bp

	n, rerr := readSome(resp.Body, buf)
	if n == 0 && rerr != nil && rerr != io.EOF {
		// Nothing written yet: still retryable.
		return h.attemptFailed(r, u, x, rerr, errFirstByteTimeout, done)
	}
	// From here on the client owns the answer: no more failover, and the
	// health checks no longer cut it (a stream that keeps producing is fine).
	x.detachDead()
	streaming := resp.ContentLength < 0
	idle := st.cfg.Timeouts.Idle
	bounded := streaming || (rerr == nil && int64(n) < resp.ContentLength)
	// A response in several pieces is written under a per-write deadline
	// (timeouts.write): a client that stops reading fills the socket
	// buffers and would otherwise block Write, and with it this upstream
	// connection and slot, for as long as it likes. A one-piece answer goes
	// into net/http's buffer and needs none.
	var rc *http.ResponseController
	wto := st.cfg.Timeouts.Write
	if bounded {
		x.deadline = true
		_ = x.uc.c.SetReadDeadline(h.clock().Add(idle))
		rc = http.NewResponseController(w)
		// Cleared on the way out: net/http keeps the deadline for the
		// connection's next request otherwise.
		defer func() { _ = rc.SetWriteDeadline(time.Time{}) }()
	}

	copyHeader(w.Header(), resp.Header)
	w.WriteHeader(resp.StatusCode)
	checkLines := streaming && resp.StatusCode == http.StatusOK
	if req.stream {
		h.metrics.routeTTFT[req.route.idx].Observe(h.clock().Sub(start).Seconds())
	}
	errLine := false
	var last byte
	for {
		if n > 0 {
			chunk := buf[:n]
			if checkLines && !errLine && hasErrorLine(chunk, last) {
				errLine = true
			}
			last = chunk[n-1]
			if rc != nil {
				_ = rc.SetWriteDeadline(h.clock().Add(wto))
			}
			if _, werr := w.Write(chunk); werr != nil {
				return h.clientWriteFailed(u, x, done, werr)
			}
			if streaming {
				if ferr := rc.Flush(); ferr != nil {
					return h.clientWriteFailed(u, x, done, ferr)
				}
			}
		}
		if rerr != nil {
			break
		}
		if bounded && streaming {
			_ = x.uc.c.SetReadDeadline(h.clock().Add(idle))
		}
		n, rerr = readSome(resp.Body, buf)
	}
	end := h.clock()
	h.metrics.overhead.Observe((end.Sub(start) - end.Sub(upStart)).Seconds())

	if rerr == io.EOF && !errLine {
		x.release()
		done(nil)
		if resp.StatusCode >= 400 {
			u.m.clientError.Inc()
		} else {
			u.m.success.Inc()
		}
		return attemptResult{code: resp.StatusCode}
	}
	clientGone := r.Context().Err() != nil
	x.close()
	if clientGone {
		done(nil)
		u.m.canceled.Inc()
		return attemptResult{code: statusClientClosed, err: r.Context().Err()}
	}
	// The upstream failed mid-answer: count it, end the client's stream in
	// its own protocol.
	done(errAttemptFailed)
	u.recordFailure(end.UnixNano())
	h.metrics.streamErrors.Inc()
	if errLine {
		// Ollama's own {"error":…} line already went out as is.
		return attemptResult{code: resp.StatusCode, err: &upstreamError{u.name, errors.New("error line in stream")}}
	}
	cause := rerr
	if isTimeout(rerr) {
		cause = errIdleTimeout
	}
	err := &upstreamError{u.name, cause}
	line, ok := streamErrorLine(resp.Header.Get("Content-Type"), "upstream failed mid-stream: "+cause.Error())
	if !ok {
		// Not a line protocol: the only honest signal is a cut connection.
		return attemptResult{code: resp.StatusCode, err: err, abort: true}
	}
	if last != '\n' && last != 0 {
		line = append([]byte{'\n'}, line...)
	}
	if rc != nil {
		_ = rc.SetWriteDeadline(h.clock().Add(wto))
	}
	_, _ = w.Write(line)
	if streaming {
		_ = rc.Flush()
	}
	return attemptResult{code: resp.StatusCode, err: err}
}

// clientWriteFailed ends a relay whose client went away or stopped reading
// for timeouts.write: the upstream did nothing wrong, but its connection is
// mid-answer and cannot be reused.
func (h *Handler) clientWriteFailed(u *Upstream, x *exchange, done func(error), werr error) attemptResult {
	x.close()
	done(nil)
	u.m.canceled.Inc()
	if isTimeout(werr) {
		werr = errWriteTimeout
	}
	return attemptResult{code: statusClientClosed, err: werr}
}

// attemptFailed accounts for an attempt that failed before the first byte
// and names the cause: the client left (499, no retry), the health checks
// declared the upstream dead, or timeout (the phase's time-out).
func (h *Handler) attemptFailed(r *http.Request, u *Upstream, x *exchange, err, timeout error, done func(error)) attemptResult {
	if x != nil {
		x.close()
	}
	if r.Context().Err() != nil {
		done(nil)
		u.m.canceled.Inc()
		return attemptResult{code: statusClientClosed, err: r.Context().Err()}
	}
	switch {
	case x != nil && x.dead.Err() != nil:
		err = errUpstreamDead
	case isTimeout(err):
		err = timeout
	}
	done(errAttemptFailed)
	u.recordFailure(h.clock().UnixNano())
	return attemptResult{retry: true, err: &upstreamError{u.name, err}}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// readSome reads until it has at least one byte or an error: a Read may
// return 0, nil.
func readSome(r io.Reader, buf []byte) (int, error) {
	for i := 0; i < 100; i++ {
		n, err := r.Read(buf)
		if n > 0 || err != nil {
			return n, err
		}
	}
	return 0, io.ErrNoProgress
}

// hasErrorLine reports whether a stream chunk holds an Ollama error line: a
// line that is the object {"error":…}, bare (NDJSON) or as an SSE data
// field. Inside a token the text would be escaped (\"error\"), so a raw
// `{"error"` at a line start is only ever the error object. prev is the byte
// before the chunk (0 at the start).
func hasErrorLine(chunk []byte, prev byte) bool {
	pat := []byte(`{"error"`)
	for off := 0; off < len(chunk); {
		i := bytes.Index(chunk[off:], pat)
		if i < 0 {
			return false
		}
		i += off
		before := prev
		if i > 0 {
			before = chunk[i-1]
		}
		if before == '\n' || before == 0 && i == 0 || bytes.HasSuffix(chunk[:i], []byte("data: ")) ||
			bytes.HasSuffix(chunk[:i], []byte("data:")) {
			return true
		}
		off = i + 1
	}
	return false
}

package bridge

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
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
	// Both deadlines are pushed forward only when they have aged by a
	// small part of their bound: a deadline change is a timer update in
	// the runtime, and twice per token it was a visible share of a
	// stream's CPU. The bounds stay within 1/32 of their configured value.
	slack := min(idle, wto) / 32
	var wdlSet, rdlSet time.Time
	if bounded {
		x.deadline = true
		rdlSet = h.clock()
		_ = x.uc.c.SetReadDeadline(rdlSet.Add(idle))
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
	// Token accounting rides on the same per-chunk pass: the count is in
	// the final object only, found by its key without decoding anything.
	var toks tokenScan
	countTokens := resp.StatusCode == http.StatusOK && req.route.tokens
	if countTokens {
		toks.key = evalCountKey
		if req.route.openai {
			toks.key = completionTokensKey
		}
	}
	// Prompt tokens only feed the trace (gen_ai.usage.input_tokens), so
	// they are scanned for only when tracing is on.
	var inToks tokenScan
	countIn := countTokens && (req.span != nil || req.tokIP != 0 || req.tokCred != 0)
	if countIn {
		inToks.key = promptEvalCountKey
		if req.route.openai {
			inToks.key = promptTokensKey
		}
	}
	sse := req.route.openai
	var lastMsg time.Time // when the previous streamed message went out
	for {
		if n > 0 {
			chunk := buf[:n]
			var messages int
			if checkLines {
				var e bool
				messages, e = scanMessages(chunk, last, sse)
				errLine = errLine || e
			}
			if countTokens {
				toks.scan(chunk)
			}
			if countIn {
				inToks.scan(chunk)
			}
			if req.capture != nil {
				req.capture.add(chunk)
			}
			var now time.Time
			if rc != nil {
				now = h.clock()
				if now.Sub(wdlSet) >= slack {
					_ = rc.SetWriteDeadline(now.Add(wto))
					wdlSet = now
				}
			}
			if checkLines {
				lastMsg = h.interToken(messages, now, lastMsg)
			}
			last = chunk[n-1]
			if _, werr := w.Write(chunk); werr != nil {
				return h.clientWriteFailed(u, x, done, werr)
			}
			if streaming && rerr != io.EOF {
				if ferr := rc.Flush(); ferr != nil {
					return h.clientWriteFailed(u, x, done, ferr)
				}
			}
		}
		if rerr != nil {
			break
		}
		if bounded && streaming {
			if now := h.clock(); now.Sub(rdlSet) >= slack {
				_ = x.uc.c.SetReadDeadline(now.Add(idle))
				rdlSet = now
			}
		}
		if streaming {
			// Let the other ready goroutines run before this stream's
			// next read, as an event loop serves each ready connection
			// once per turn. Idle, it returns at once: no added latency.
			// Measured on back-to-back 512-token streams against the
			// build without it, side by side: the upstreams sent 12-29 %
			// fewer TCP segments (their receive queues were pruned half
			// as often) and used a median 10 % less CPU per stream; the
			// bridge relayed a median 6 % more streams a second (-4 to
			// +19 % over nine runs) with the same number of reads.
			runtime.Gosched()
		}
		n, rerr = readSome(resp.Body, buf)
	}
	if rerr == io.EOF && bounded {
		// The answer is complete (an error line in it went out as is):
		// its last bytes go out now, under the write deadline, with the
		// end of the body where the writer can send it early. A one-piece
		// answer is left to the server, which sends it once the handler
		// returned, after this upstream connection went back to its pool.
		var ferr error
		if e, ok := w.(bodyEnder); ok {
			ferr = e.EndBody()
		} else if streaming {
			ferr = rc.Flush()
		}
		if ferr != nil {
			return h.clientWriteFailed(u, x, done, ferr)
		}
	}
	end := h.clock()
	h.metrics.overhead.Observe((end.Sub(start) - end.Sub(upStart)).Seconds())
	if toks.total > 0 {
		h.metrics.routeTokens[req.route.idx].Add(float64(toks.total))
	}

	if rerr == io.EOF && !errLine {
		store := req.capture != nil && resp.StatusCode == http.StatusOK
		var ctype string
		if store {
			// Read before release: the header map goes with the connection.
			ctype = resp.Header.Get("Content-Type")
		}
		x.release()
		done(nil)
		if store {
			req.capture.complete(ctype)
		}
		if resp.StatusCode >= 400 {
			u.m.clientError.Inc()
		} else {
			u.m.success.Inc()
		}
		return attemptResult{code: resp.StatusCode, outTokens: toks.total, inTokens: inToks.total}
	}
	clientGone := r.Context().Err() != nil
	x.close()
	if clientGone {
		if req.capture != nil && resp.StatusCode == http.StatusOK && !errLine {
			// A client may hang up as soon as it has the stream's last
			// message (openai-go after [DONE]), before the upstream's EOF.
			req.capture.completeIfEnded(resp.Header.Get("Content-Type"), sse)
		}
		done(nil)
		u.m.canceled.Inc()
		return attemptResult{code: statusClientClosed, err: r.Context().Err()}
	}
	// The upstream failed mid-answer: count it, end the client's stream in
	// its own protocol.
	done(errAttemptFailed)
	u.recordFailure(end.UnixNano(), reasonStream)
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
	why := reasonOther
	var dial DialError
	switch {
	case x != nil && x.dead.err() != nil:
		err, why = errUpstreamDead, reasonDead
	case isTimeout(err):
		err, why = timeout, reasonTimeout
	case errors.As(err, &dial):
		why = reasonConnect
	}
	done(errAttemptFailed)
	u.recordFailure(h.clock().UnixNano(), why)
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

// scanMessages makes the relay's one pass over a streamed chunk: it counts
// the messages the chunk completes (NDJSON lines; SSE events, which end in a
// blank line) and reports whether a line of it is an Ollama error object,
// {"error":…} at a line start, bare or as an SSE data field. Inside a token
// the text would be escaped (\"error\"), so a raw `{"error"` at a line start
// is only ever the error object. prev is the byte before the chunk (0 at
// the start). Only the line ends are searched for: one IndexByte per line,
// where a search for the pattern stopped at every `{`.
func scanMessages(chunk []byte, prev byte, sse bool) (messages int, errLine bool) {
	// eventEnd is the index of the newline that last ended an SSE event,
	// so that "\n\n\n" counts once, as a search for "\n\n" would.
	eventEnd := -2
	if prev == '\n' {
		eventEnd = -3 // a newline before the chunk, not ending an event
	}
	for start := 0; ; {
		if (start > 0 || prev == '\n' || prev == 0) && !errLine {
			errLine = isErrorLine(chunk[start:])
		}
		i := bytes.IndexByte(chunk[start:], '\n')
		if i < 0 {
			return messages, errLine
		}
		i += start
		switch {
		case !sse:
			messages++
		case i > 0 && chunk[i-1] == '\n' && eventEnd != i-1, i == 0 && eventEnd == -3:
			messages++
			eventEnd = i
		}
		start = i + 1
		if start == len(chunk) {
			return messages, errLine
		}
	}
}

// isErrorLine reports whether a line starts with the error object.
func isErrorLine(line []byte) bool {
	if rest, ok := bytes.CutPrefix(line, dataField); ok {
		line = bytes.TrimPrefix(rest, space)
	}
	return bytes.HasPrefix(line, errorObject)
}

// interToken observes bridge_inter_token_latency_seconds for the messages a
// streamed chunk completes and returns when the last of them went out. The
// first message of a stream has no gap; the others the chunk completes went
// out with the first and count 0 (what the client sees, however reads
// coalesce).
func (h *Handler) interToken(messages int, now, lastMsg time.Time) time.Time {
	if messages == 0 {
		return lastMsg
	}
	if !lastMsg.IsZero() {
		h.metrics.itl.Observe(now.Sub(lastMsg).Seconds())
	}
	h.metrics.itl.observeZeros(messages - 1)
	return now
}

var (
	dataField   = []byte("data:")
	space       = []byte(" ")
	errorObject = []byte(`{"error"`)
	// The keys include their quotes, so "prompt_eval_count": and
	// "completion_tokens_details": do not match, and token text cannot
	// (its quotes are escaped).
	evalCountKey        = []byte(`"eval_count":`)
	completionTokensKey = []byte(`"completion_tokens":`)
	promptEvalCountKey  = []byte(`"prompt_eval_count":`)
	promptTokensKey     = []byte(`"prompt_tokens":`)
)

// tokenScan sums the integer after each occurrence of key in an answer fed
// chunk by chunk; a key or number split across chunks is picked up where it
// stopped. Ollama puts eval_count in the final (done) object only, OpenAI
// completion_tokens in the usage object only, so a clean answer has one.
type tokenScan struct {
	key     []byte
	matched int  // bytes of key matched at the end of the last chunk
	inNum   bool // after a key, reading the number
	digits  bool // a digit of it was seen
	num     int64
	total   int64
}

func (s *tokenScan) scan(chunk []byte) {
	i := 0
	if s.inNum {
		i = s.number(chunk, 0)
	}
	if s.matched > 0 && i < len(chunk) {
		for s.matched < len(s.key) && i < len(chunk) && chunk[i] == s.key[s.matched] {
			s.matched++
			i++
		}
		switch {
		case s.matched == len(s.key):
			s.matched = 0
			s.inNum, s.digits, s.num = true, false, 0
			i = s.number(chunk, i)
		case i < len(chunk):
			s.matched = 0 // mismatch: search on from here
		default:
			return // the chunk ended still matching
		}
	}
	for i < len(chunk) {
		j := indexKey(chunk[i:], s.key)
		if j < 0 {
			s.matched = partialKey(chunk[i:], s.key)
			return
		}
		s.inNum, s.digits, s.num = true, false, 0
		i = s.number(chunk, i+j+len(s.key))
	}
}

// number reads the digits of the current number from chunk[i:] (spaces
// before it allowed) and returns where it stopped; the number is added
// once it ends inside the chunk.
func (s *tokenScan) number(chunk []byte, i int) int {
	for ; i < len(chunk); i++ {
		c := chunk[i]
		switch {
		case c >= '0' && c <= '9':
			s.num = s.num*10 + int64(c-'0')
			s.digits = true
		case c == ' ' && !s.digits:
		default:
			s.total += s.num
			s.inNum = false
			return i
		}
	}
	return i
}

// indexKey is bytes.Index(b, key) for the keys above, found by their tail
// from the underscore on: a quote is frequent in JSON and makes Index stop
// at every one, an underscore is rare in a token line.
func indexKey(b, key []byte) int {
	off := bytes.IndexByte(key, '_')
	for from := 0; ; {
		j := bytes.Index(b[from:], key[off:])
		if j < 0 {
			return -1
		}
		j += from
		if j >= off && bytes.Equal(b[j-off:j], key[:off]) {
			return j - off
		}
		from = j + 1
	}
}

// partialKey is the length of the longest proper prefix of key that b ends
// with. key starts with a quote, so only quotes need a look.
func partialKey(b, key []byte) int {
	k := len(key) - 1
	if k > len(b) {
		k = len(b)
	}
	for ; k > 0; k-- {
		if b[len(b)-k] == '"' && bytes.Equal(b[len(b)-k:], key[:k]) {
			return k
		}
	}
	return 0
}

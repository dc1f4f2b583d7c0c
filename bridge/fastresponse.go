package bridge

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// fastResponse is the fast server's http.ResponseWriter, reused across a
// connection's requests. What a client sees matches net/http's server: a
// Date header, Content-Type sniffed when the handler set none, Content-Length
// when the handler finished without flushing and set none, chunked encoding
// otherwise, no body for HEAD, 204 and 304.
type fastResponse struct {
	c          *fastConn
	req        *http.Request
	header     http.Header
	status     int
	wroteHead  bool // WriteHeader called (the status is chosen)
	committed  bool // the head is in the write buffer
	ended      bool // EndBody: the whole answer is out, nothing more may follow
	chunked    bool
	closeAfter bool
	fullDuplex bool  // EnableFullDuplex: an unread body is not discarded at commit
	length     int64 // Content-Length the handler set, -1 if none
	written    int64
	pending    []byte // body held back until the head is committed
	err        error  // first write error: the connection is done
}

// pendingMax is how much body is held back to compute a Content-Length, as
// net/http's 2 KiB response buffer does for the same reason.
const pendingMax = 2 << 10

func (w *fastResponse) reset(r *http.Request) {
	if w.header == nil {
		w.header = make(http.Header, 8)
		w.pending = make([]byte, 0, pendingMax)
	} else {
		clear(w.header)
	}
	w.req, w.status = r, 0
	w.wroteHead, w.committed, w.ended, w.chunked, w.closeAfter, w.fullDuplex = false, false, false, false, false, false
	w.length, w.written, w.err = -1, 0, nil
	w.pending = w.pending[:0]
}

func (w *fastResponse) Header() http.Header { return w.header }

func (w *fastResponse) WriteHeader(code int) {
	if w.wroteHead {
		return
	}
	if code < 100 || code > 999 {
		panic("invalid WriteHeader code " + strconv.Itoa(code))
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		// 1xx informational answers go out at once; the real status follows.
		w.writeInformational(code)
		return
	}
	w.wroteHead, w.status = true, code
	if cl := headerGet(w.header, "Content-Length"); cl != "" {
		if n, ok := parseContentLength(cl); ok {
			w.length = n
		} else {
			w.header.Del("Content-Length")
		}
	}
}

func (w *fastResponse) Write(p []byte) (int, error) {
	if !w.wroteHead {
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return 0, w.err
	}
	if w.ended {
		return 0, errBodyEnded
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !bodyAllowedForStatus(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if w.length >= 0 && w.written+int64(len(p)) > w.length {
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	if !w.committed {
		if len(w.pending)+len(p) <= pendingMax && (w.length < 0 || w.req.Method == http.MethodHead) {
			w.pending = append(w.pending, p...)
			return len(p), nil
		}
		// The first bytes of the body, for sniffing a Content-Type.
		n := len(w.pending)
		w.pending = append(w.pending, p[:min(len(p), max(0, sniffLen-n))]...)
		w.commit(w.pending, false)
		if n > 0 && w.req.Method != http.MethodHead {
			w.writeBody(w.pending[:n])
		}
		w.pending = w.pending[:0]
	}
	if w.req.Method != http.MethodHead {
		w.writeBody(p)
	}
	if w.err != nil {
		return 0, w.err
	}
	return len(p), nil
}

// sniffLen is what http.DetectContentType looks at.
const sniffLen = 512

// Flush commits the head (chunked if the length is unknown) and sends
// everything buffered.
func (w *fastResponse) Flush() { _ = w.FlushError() }

func (w *fastResponse) FlushError() error {
	w.commitAsFlush()
	return w.send()
}

// commitAsFlush commits the head as a Flush does: the length unknown
// (chunked) unless the handler set one, whatever is held back after it.
func (w *fastResponse) commitAsFlush() {
	if !w.wroteHead {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		w.commitPending(false)
	}
}

// send writes out the buffer; the first error stays the response's.
func (w *fastResponse) send() error {
	if w.err == nil {
		w.err = w.c.bw.Flush()
	}
	return w.err
}

// SetReadDeadline, SetWriteDeadline and EnableFullDuplex serve
// http.ResponseController. The fast server is always full duplex: reading
// the body after writing has started never closes anything.
func (w *fastResponse) SetReadDeadline(t time.Time) error  { return w.c.nc.SetReadDeadline(t) }
func (w *fastResponse) SetWriteDeadline(t time.Time) error { return w.c.nc.SetWriteDeadline(t) }
func (w *fastResponse) EnableFullDuplex() error            { w.fullDuplex = true; return nil }

// errBodyEnded is a Write after EndBody.
var errBodyEnded = errors.New("bridge: write after the response body ended")

// bodyEnder is a ResponseWriter that can send the end of the body before the
// handler returns (the fast server's). The relay ends a complete answer with
// it: the last bytes and the end of the body (a chunked answer's last-chunk)
// go out in one write, where a flush and then the end after the handler
// returned took two, and the client has the whole answer before the
// bridge's bookkeeping (metrics, log, cache store) runs.
type bodyEnder interface {
	EndBody() error
}

// EndBody is a Flush and the end of the body in one write: the head is
// committed as a Flush commits it (chunked unless the handler set a
// Content-Length, as a stream's answer is), a chunked body gets its
// last-chunk. Writes after it fail with errBodyEnded.
func (w *fastResponse) EndBody() error {
	w.commitAsFlush()
	w.end()
	return w.send()
}

// end puts the rest of the answer in the write buffer, once.
func (w *fastResponse) end() {
	if w.ended {
		return
	}
	w.ended = true
	if !w.wroteHead {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		w.commitPending(true)
	}
	if w.chunked && w.err == nil {
		_, w.err = w.c.bw.WriteString("0\r\n\r\n")
	}
}

// finish ends the response after the handler returned.
func (w *fastResponse) finish() error {
	w.end()
	if w.length >= 0 && w.written < w.length && w.req.Method != http.MethodHead {
		// The handler promised more than it wrote: the client would wait
		// for the rest; only closing tells it.
		w.closeAfter = true
	}
	return w.send()
}

// commitPending commits the head with the held-back body (all of it when
// done) and writes that body after it.
func (w *fastResponse) commitPending(done bool) {
	w.commit(w.pending, done)
	if len(w.pending) > 0 && w.req.Method != http.MethodHead {
		w.writeBody(w.pending)
	}
	w.pending = w.pending[:0]
}

// commit writes the status line and the header into the write buffer, with
// net/http's rules and in its order (chunkWriter.writeHeader): the handler's
// fields sorted, then the ones the server adds — Date, Content-Length,
// Content-Type, Connection, Transfer-Encoding. first is the start of the
// body, for sniffing; done says the handler has returned, so that first is
// the whole body and its length can be sent.
func (w *fastResponse) commit(first []byte, done bool) {
	w.committed = true
	h := w.header
	isHEAD := w.req.Method == http.MethodHead
	bodyAllowed := bodyAllowedForStatus(w.status)
	var ex extraFields
	te := headerGet(h, "Transfer-Encoding")
	hasTE := te != ""
	if done && !hasTE && bodyAllowed && w.length < 0 && (!isHEAD || len(first) > 0) {
		w.length = int64(len(first))
		ex.contentLength = strconv.Itoa(len(first))
	}
	conn := headerGet(h, "Connection") // read once: only the end of commit changes it
	if w.req.Close || w.c.srv.closing.Load() || conn == "close" {
		w.closeAfter = true
	}
	if !w.closeAfter && !w.fullDuplex && w.c.body.remaining() > 0 && !w.c.body.discard(w.c.srv.cfg.ReadBodyTimeout) {
		// A body the handler did not read, and too big or too slow to
		// skip: the connection is not at a request boundary (net/http
		// does the same, with the same bound).
		w.closeAfter = true
	}
	if bodyAllowed {
		_, haveType := h["Content-Type"]
		if !haveType && headerGet(h, "Content-Encoding") == "" && !hasTE && len(first) > 0 {
			ex.contentType = http.DetectContentType(first)
		}
	} else {
		if w.status == http.StatusNotModified {
			delete(h, "Content-Type")
		}
		delete(h, "Content-Length")
		delete(h, "Transfer-Encoding")
	}
	if _, ok := h["Date"]; !ok {
		ex.date = w.c.srv.date()
	}
	hasCL := w.length >= 0
	if hasCL && hasTE && te != "identity" {
		delete(h, "Content-Length")
		hasCL = false
	}
	switch {
	case isHEAD || !bodyAllowed:
		delete(h, "Transfer-Encoding")
	case hasCL:
		delete(h, "Transfer-Encoding")
	case hasTE && te == "identity":
		w.closeAfter = true
		delete(h, "Transfer-Encoding")
	default:
		w.chunked = true
		ex.transferEncoding = "chunked"
		delete(h, "Transfer-Encoding")
	}
	if w.chunked {
		delete(h, "Content-Length")
	}
	if w.closeAfter && !hasToken(conn, "close") {
		delete(h, "Connection")
		ex.connection = "close"
	}

	b := w.c.bw
	b.WriteString("HTTP/1.1 ")
	b.WriteString(statusLine(w.status))
	b.WriteString("\r\n")
	var keysBuf [24]string
	keys := keysBuf[:0]
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !validFieldName(k) {
			continue // net/http drops them too: there is no way to report it
		}
		for _, v := range h[k] {
			b.WriteString(k)
			b.WriteString(": ")
			writeFieldValue(b, trimOWS(v))
			b.WriteString("\r\n")
		}
	}
	ex.write(b)
	b.WriteString("\r\n")
}

// extraFields are the header fields the server adds, written after the
// handler's in net/http's order.
type extraFields struct {
	date, contentLength, contentType, connection, transferEncoding string
}

func (e *extraFields) write(b stringWriter) {
	for _, f := range [...]struct{ k, v string }{{"Date", e.date}, {"Content-Length", e.contentLength},
		{"Content-Type", e.contentType}, {"Connection", e.connection}, {"Transfer-Encoding", e.transferEncoding}} {
		if f.v != "" {
			_, _ = b.WriteString(f.k)
			_, _ = b.WriteString(": ")
			_, _ = b.WriteString(f.v)
			_, _ = b.WriteString("\r\n")
		}
	}
}

func bodyAllowedForStatus(code int) bool {
	return !(code >= 100 && code <= 199 || code == http.StatusNoContent || code == http.StatusNotModified)
}

// validFieldName: a token (RFC 9110 §5.1).
func validFieldName(k string) bool { return isToken(k) }

// hasToken reports whether the comma-separated list v has token t, case
// insensitively.
func hasToken(v, t string) bool {
	for v != "" {
		var tok string
		if i := indexByteStr(v, ','); i >= 0 {
			tok, v = v[:i], v[i+1:]
		} else {
			tok, v = v, ""
		}
		if asciiEqualFold(trimOWS(tok), t) {
			return true
		}
	}
	return false
}

func (w *fastResponse) writeBody(p []byte) {
	b := w.c.bw
	var err error
	if w.chunked {
		if b.Available() < 18 {
			_ = b.Flush()
		}
		b.Write(strconv.AppendInt(b.AvailableBuffer(), int64(len(p)), 16))
		b.WriteString("\r\n")
		b.Write(p)
		_, err = b.WriteString("\r\n")
	} else {
		_, err = b.Write(p)
	}
	if err != nil && w.err == nil {
		w.err = err
	}
}

func (w *fastResponse) writeInformational(code int) {
	b := w.c.bw
	b.WriteString("HTTP/1.1 ")
	b.WriteString(statusLine(code))
	b.WriteString("\r\n\r\n")
	if err := b.Flush(); err != nil && w.err == nil {
		w.err = err
	}
}

type stringWriter interface {
	WriteString(string) (int, error)
	WriteByte(byte) error
}

func writeFieldValue(b stringWriter, v string) {
	for i := 0; i < len(v); i++ {
		if v[i] == '\r' || v[i] == '\n' {
			for j := 0; j < len(v); j++ {
				c := v[j]
				if c == '\r' || c == '\n' {
					c = ' '
				}
				_ = b.WriteByte(c)
			}
			return
		}
	}
	_, _ = b.WriteString(v)
}

// statusLine is "200 OK" for 200; the common ones without allocating.
func statusLine(code int) string {
	switch code {
	case 200:
		return "200 OK"
	case 400:
		return "400 Bad Request"
	case 404:
		return "404 Not Found"
	case 500:
		return "500 Internal Server Error"
	case 502:
		return "502 Bad Gateway"
	case 503:
		return "503 Service Unavailable"
	}
	return strconv.Itoa(code) + " " + http.StatusText(code)
}

// date is the Date header's value, formatted once per second.
func (s *fastServer) date() string {
	now := time.Now()
	sec := now.Unix()
	if d := s.dateCache.Load(); d != nil && d.sec == sec {
		return d.text
	}
	d := &cachedDate{sec: sec, text: now.UTC().Format(http.TimeFormat)}
	s.dateCache.Store(d)
	return d.text
}

type cachedDate struct {
	sec  int64
	text string
}

// headerGet is Header.Get for a key already in canonical form, as net/http
// reads these fields (its unexported Header.get): a field set under a
// non-canonical key by direct map assignment is not seen, as there, and the
// key is not scanned again on every request.
func headerGet(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

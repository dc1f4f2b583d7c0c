package bridge

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"net/textproto"
)

// readResponse reads an upstream's response head. The plain answers that
// Ollama (and any net/http server) gives — HTTP/1.1, a final status, a
// Content-Length or chunked body — are parsed by hand into the exchange's
// own http.Response, with no allocation beyond the head's text and header
// map; http.ReadResponse, on the same unconsumed bytes, reads anything
// else. pprof had http.ReadResponse at a fifth of the bridge's allocations.
func (x *exchange) readResponse(br *bufio.Reader, method string) (*http.Response, error) {
	for {
		buf, _ := br.Peek(br.Buffered())
		n, v := scanHead(buf)
		if v == headComplete {
			if x.parseResponse(buf[:n], br, method) {
				_, _ = br.Discard(n)
				return &x.respBuf, nil
			}
			break
		}
		if v == headHandoff || br.Buffered() == br.Size() {
			break
		}
		if _, err := br.Peek(br.Buffered() + 1); err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			if br.Buffered() == 0 {
				return nil, err
			}
			break // let http.ReadResponse name what is wrong
		}
	}
	var req *http.Request
	if method == http.MethodHead {
		req = &http.Request{Method: http.MethodHead}
	}
	return http.ReadResponse(br, req)
}

// parseResponse fills x.respBuf from a complete head b, reporting false when
// the answer is not a plain one (then nothing is consumed).
func (x *exchange) parseResponse(b []byte, br *bufio.Reader, method string) bool {
	s := string(b[:len(b)-2])
	eol := indexCRLF(s)
	line := s
	if eol >= 0 {
		line = s[:eol]
	}
	// "HTTP/1.1 200 OK", the reason phrase possibly empty.
	if len(line) < 12 || line[:9] != "HTTP/1.1 " || (len(line) > 12 && line[12] != ' ') {
		return false
	}
	code := 0
	for _, c := range []byte(line[9:12]) {
		if c < '0' || c > '9' {
			return false
		}
		code = code*10 + int(c-'0')
	}
	if code < 200 {
		return false // 1xx: rare, and http.ReadResponse knows them
	}
	fields := ""
	if eol >= 0 {
		fields = s[eol+2:]
	}
	f, ok := parseFields(fields, x.uc.hdr)
	if !ok || f.lengths > 1 || f.hosts > 0 {
		return false
	}
	x.uc.hdr = reuseHeader(f.header)
	chunked := false
	switch {
	case !f.hasTE:
	case asciiEqualFold(f.te, "chunked") && f.lengths == 0:
		chunked = true
		if _, ok := f.header["Trailer"]; ok {
			return false // declared trailers: http.ReadResponse's
		}
	default:
		return false
	}
	if f.close {
		delete(f.header, "Connection") // as http.ReadResponse does
	}
	r := &x.respBuf
	*r = http.Response{Status: line[9:], StatusCode: code, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: f.header, Close: f.close, ContentLength: -1}
	if f.lengths == 1 {
		r.ContentLength = f.contentLength
	}
	switch {
	case method == http.MethodHead:
		r.Body = http.NoBody // the length, if any, describes a GET's body
	case code == http.StatusNoContent || code == http.StatusNotModified:
		r.Body, r.ContentLength = http.NoBody, 0
	case chunked:
		r.ContentLength = -1
		x.chunkBody = chunkedBody{br: br, cr: httputil.NewChunkedReader(br)}
		r.Body = &x.chunkBody
	case f.lengths == 1:
		x.lenBody = lengthBody{br: br, n: f.contentLength}
		r.Body = &x.lenBody
	default:
		return false // body until close: http.ReadResponse's
	}
	return true
}

// lengthBody is a Content-Length body on the upstream connection.
type lengthBody struct {
	br *bufio.Reader
	n  int64
}

func (b *lengthBody) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.br.Read(p)
	b.n -= int64(n)
	if b.n == 0 {
		return n, io.EOF
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (b *lengthBody) Close() error { return nil }

// chunkedBody is a chunked body: at its end the trailer section and the
// final CRLF are read too, so that the connection is at the next response.
type chunkedBody struct {
	br  *bufio.Reader
	cr  io.Reader
	err error
}

func (b *chunkedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.cr.Read(p)
	if err == io.EOF {
		err = b.readTrailer()
	}
	b.err = err
	return n, err
}

func (b *chunkedBody) readTrailer() error {
	// As net/http's body.readTrailer: CRLF alone is the common end; a
	// trailer section is read with net/textproto, the same parser, and
	// dropped (the bridge relays no trailers).
	buf, err := b.br.Peek(2)
	if len(buf) == 2 && buf[0] == '\r' && buf[1] == '\n' {
		_, _ = b.br.Discard(2)
		return io.EOF
	}
	if len(buf) < 2 {
		return io.ErrUnexpectedEOF
	}
	if err != nil {
		return err
	}
	// The whole section must fit in the read buffer, as net/http insists
	// (seeUpcomingDoubleCRLF): no unbounded read of an endless trailer.
	if !upcomingDoubleCRLF(b.br) {
		return errBadTrailer
	}
	if _, err := textproto.NewReader(b.br).ReadMIMEHeader(); err != nil {
		return errBadTrailer
	}
	return io.EOF
}

func (b *chunkedBody) Close() error { return nil }

var errBadTrailer = errors.New("malformed chunked trailer")

func upcomingDoubleCRLF(r *bufio.Reader) bool {
	for n := 4; ; n++ {
		buf, err := r.Peek(n)
		if bytes.HasSuffix(buf, []byte("\r\n\r\n")) {
			return true
		}
		if err != nil {
			return false
		}
	}
}

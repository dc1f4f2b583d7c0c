package bridge

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"slices"
	"testing"
)

// FuzzParseHead holds the fast path to net/http: whatever head parseHead
// accepts, http.ReadRequest accepts too and reads the same method, target,
// host, length, close flag and header fields. (The reverse need not hold:
// the fast path hands anything unusual to net/http.)
func FuzzParseHead(f *testing.F) {
	for _, s := range []string{
		"POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1:11434\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n",
		"GET /api/tags?x=1 HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, close\r\nX-A: 1\r\nX-A: 2\r\n\r\n",
		"GET / HTTP/1.1\r\nhost: h\r\nuser-agent: curl/8\r\naccept: */*\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: [::1]:80\r\nX-Empty:\r\nX-Tab:\tv\t\r\n\r\n",
		"DELETE /api/delete HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET /a%20b HTTP/1.1\r\nHost: h\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, v := scanHead(b)
		if v != headComplete {
			return
		}
		h, ok := parseHead(b[:n], nil)
		if !ok {
			return
		}
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(b[:n])))
		if err != nil {
			t.Fatalf("fast path accepted a head net/http rejects (%v): %q", err, b[:n])
		}
		if r.Method != h.method || r.RequestURI != h.target || r.URL.Path != h.path || r.URL.RawQuery != h.query ||
			r.URL.EscapedPath() != h.path || r.Host != h.host || r.Close != h.close {
			t.Fatalf("request line or host differ for %q:\nnet/http: %s %s path %q query %q host %q close %v\nfast: %s %s path %q query %q host %q close %v",
				b[:n], r.Method, r.RequestURI, r.URL.Path, r.URL.RawQuery, r.Host, r.Close,
				h.method, h.target, h.path, h.query, h.host, h.close)
		}
		if r.ContentLength != h.contentLength && !(r.ContentLength == 0 && h.contentLength == 0) {
			t.Fatalf("content length %d, fast path %d: %q", r.ContentLength, h.contentLength, b[:n])
		}
		if len(r.Header) != len(h.header) {
			t.Fatalf("header fields differ for %q:\nnet/http: %v\nfast: %v", b[:n], r.Header, h.header)
		}
		for k, vs := range r.Header {
			if !slices.Equal(vs, h.header[k]) {
				t.Fatalf("field %s: net/http %q, fast %q (head %q)", k, vs, h.header[k], b[:n])
			}
		}
	})
}

func TestParseHeadHandsOffTheUnusual(t *testing.T) {
	for _, s := range []string{
		"GET /a HTTP/1.0\r\nHost: h\r\n\r\n",
		"GET http://h/a HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /a%2F HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /a HTTP/1.1\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: h\r\nHost: h\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: h\r\nX: a\x7fb\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: h\r\n X: folded\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: h h\r\n\r\n",
	} {
		n, v := scanHead([]byte(s))
		if v != headComplete {
			t.Errorf("scanHead(%q) = %v, want complete", s, v)
			continue
		}
		if _, ok := parseHead([]byte(s[:n]), nil); ok {
			t.Errorf("parseHead(%q) took it; want a hand-off to net/http", s)
		}
	}
}

// FuzzReadResponse holds the hand-parsed upstream answers to
// http.ReadResponse: same status, length, close flag, header and body.
func FuzzReadResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nDate: Fri, 27 Nov 2026 02:49:35 GMT\r\nContent-Length: 2\r\n\r\n{}",
		"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 5\r\n\r\nnope!",
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-Trailer: 1\r\n\r\n",
		"HTTP/1.1 503 \r\nContent-Length: 0\r\n\r\n",
	} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, b []byte, head bool) {
		method := http.MethodPost
		if head {
			method = http.MethodHead
		}
		n, v := scanHead(b)
		if v != headComplete {
			return
		}
		// The connection's map from an earlier answer: nothing of it may
		// show through (the header comparison below).
		x := exchange{uc: &upConn{hdr: http.Header{"X-Earlier-Answer": {"1"}}}}
		if !x.parseResponse(b[:n], bufio.NewReader(bytes.NewReader(b[n:])), method) {
			return
		}
		got := &x.respBuf
		gotBody, gotErr := io.ReadAll(got.Body)
		var req *http.Request
		if head {
			req = &http.Request{Method: http.MethodHead}
		}
		want, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(b)), req)
		if err != nil {
			t.Fatalf("hand parser accepted what http.ReadResponse rejects (%v): %q", err, b)
		}
		wantBody, wantErr := io.ReadAll(want.Body)
		if got.StatusCode != want.StatusCode || got.Status != want.Status || got.Close != want.Close ||
			got.ContentLength != want.ContentLength {
			t.Fatalf("%q:\nReadResponse: %q %d close=%v len=%d\nhand:         %q %d close=%v len=%d", b,
				want.Status, want.StatusCode, want.Close, want.ContentLength, got.Status, got.StatusCode, got.Close, got.ContentLength)
		}
		if (gotErr == nil) != (wantErr == nil) || !bytes.Equal(gotBody, wantBody) {
			t.Fatalf("%q: body %q (%v), ReadResponse %q (%v)", b, gotBody, gotErr, wantBody, wantErr)
		}
		for k, vs := range want.Header {
			if !slices.Equal(vs, got.Header[k]) {
				t.Fatalf("%q: field %s: ReadResponse %q, hand %q", b, k, vs, got.Header[k])
			}
		}
		if len(want.Header) != len(got.Header) {
			t.Fatalf("%q: header %v, ReadResponse %v", b, got.Header, want.Header)
		}
	})
}

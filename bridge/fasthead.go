package bridge

import (
	"bytes"
	"net/http"
	"net/textproto"
)

// reqHead is one parsed HTTP/1.1 request head of the fast server
// (fastserver.go). Every string is a substring of one copy of the head's
// bytes: parsing costs one allocation for the text, one for the header map
// and one for its values.
type reqHead struct {
	method, target, path, query, host string
	header                            http.Header
	contentLength                     int64
	close                             bool // "Connection: close"
}

// headVerdict says what the fast server does with the bytes it has.
type headVerdict int

const (
	headIncomplete headVerdict = iota // no blank line yet: read more
	headComplete                      // a head the fast path serves
	headHandoff                       // anything else: net/http takes the connection
)

// scanHead finds the end of a request head in buf: the length up to and
// including the blank line. A bare LF line ending is not the fast path's
// business (net/http accepts it): hand off.
func scanHead(buf []byte) (int, headVerdict) {
	off := 0
	for {
		i := bytes.IndexByte(buf[off:], '\n')
		if i < 0 {
			return 0, headIncomplete
		}
		end := off + i
		if end == 0 || buf[end-1] != '\r' {
			return 0, headHandoff
		}
		if end-off == 1 { // "\r\n" alone: the blank line
			if off == 0 {
				return 0, headHandoff // leading blank line (RFC 9112 §2.2 lets servers skip it; net/http does)
			}
			return end + 1, headComplete
		}
		off = end + 1
	}
}

// parseHead parses a complete head (scanHead said so) into the header map
// hdr, cleared first (nil: a new one; see parseFields). ok false hands the
// connection to net/http: the fast path serves only the plain case —
// HTTP/1.1, origin-form target without percent-encoding, one Host, at most
// one Content-Length, no Transfer-Encoding, Expect or Upgrade, header values
// free of control characters (so that the bridge can write them upstream
// verbatim, upconn.go) — and net/http answers everything else, errors
// included, exactly as it always has.
func parseHead(b []byte, hdr http.Header) (h reqHead, ok bool) {
	s := string(b[:len(b)-2]) // the text, without the final blank line
	// Request line.
	eol := indexCRLF(s)
	line := s[:eol]
	sp1 := indexByteStr(line, ' ')
	if sp1 <= 0 {
		return h, false
	}
	rest := line[sp1+1:]
	sp2 := indexByteStr(rest, ' ')
	if sp2 <= 0 || rest[sp2+1:] != "HTTP/1.1" {
		return h, false
	}
	h.method, h.target = internMethod(line[:sp1]), rest[:sp2]
	if !isToken(h.method) || !validTarget(h.target) {
		return h, false
	}
	h.path, h.query = h.target, ""
	if q := indexByteStr(h.target, '?'); q >= 0 {
		h.path, h.query = h.target[:q], h.target[q+1:]
	}

	fields, ok := parseFields(s[eol+2:], hdr)
	if !ok || fields.hosts != 1 || fields.lengths > 1 || fields.hasTE || fields.other {
		return h, false
	}
	h.header, h.host, h.contentLength, h.close = fields.header, fields.host, fields.contentLength, fields.close
	return h, true
}

// headFields is a head's header fields and the facts about them both sides
// of the bridge decide on.
type headFields struct {
	header        http.Header
	host          string // promoted out of header, as net/http does
	hosts         int
	contentLength int64
	lengths       int
	te            string // Transfer-Encoding, removed from header
	hasTE         bool   // the field is present (even empty)
	close         bool   // Connection: close
	other         bool   // Expect, Upgrade, TE, or a Connection option besides close/keep-alive
}

// parseFields parses header field lines (CRLF-separated, without the blank
// line). ok false: something the fast paths leave to net/http — obs-fold,
// a bad name or value, an unparsable Content-Length.
//
// The fields go into hdr, cleared first, when it is not nil: both sides of
// the bridge keep one map per connection (reuseHeader), since the two maps
// were four of a proxied request's fifteen allocations (a map and its slots
// each). The values are always a new slice: a copy of the map (copyHeader)
// shares them, and may outlive the next request on the connection.
func parseFields(fields string, hdr http.Header) (f headFields, ok bool) {
	// Count the fields first, so that the values are one allocation (and
	// a new map, if there is none to reuse, another).
	n := 0
	if len(fields) > 0 {
		n = 1
		for i := 0; i < len(fields); i++ {
			if fields[i] == '\n' {
				n++
			}
		}
	}
	if hdr == nil {
		hdr = make(http.Header, n)
	} else {
		clear(hdr)
	}
	f.header = hdr
	vals := make([]string, n)
	for i := 0; len(fields) > 0; i++ {
		var line string
		if j := indexCRLF(fields); j >= 0 {
			line, fields = fields[:j], fields[j+2:]
		} else {
			line, fields = fields, ""
		}
		colon := indexByteStr(line, ':')
		if colon <= 0 {
			return f, false // includes obs-fold continuation lines
		}
		name := line[:colon]
		if !isToken(name) {
			return f, false
		}
		v := trimOWS(line[colon+1:])
		if !validFieldValue(v) {
			return f, false
		}
		key := canonicalKey(name)
		switch key {
		case "Host":
			f.hosts++
			f.host = v
			if !validHost(v) {
				return f, false
			}
			continue
		case "Content-Length":
			f.lengths++
			cl, ok := parseContentLength(v)
			if !ok {
				return f, false
			}
			f.contentLength = cl
		case "Transfer-Encoding":
			if f.hasTE {
				return f, false
			}
			f.te, f.hasTE = v, true
			continue
		case "Expect", "Upgrade", "Te":
			f.other = true
		case "Connection":
			c, ok := connectionClose(v)
			if !ok {
				f.other = true
			}
			f.close = f.close || c
		}
		if old, dup := f.header[key]; dup {
			f.header[key] = append(old, v)
			continue
		}
		vals[i] = v
		f.header[key] = vals[i : i+1 : i+1]
	}
	return f, true
}

// reuseHeader is what a connection keeps of a head's header map for its
// next head: the map, unless one unusual head grew it (clearing costs its
// size, and the map would stay that large).
func reuseHeader(h http.Header) http.Header {
	if len(h) > 32 {
		return nil
	}
	return h
}

func indexCRLF(s string) int {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '\r' && s[i+1] == '\n' {
			return i
		}
	}
	return -1
}

func indexByteStr(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// internMethod returns a constant for the usual methods so that they do not
// keep the head's text alive through Request.Method.
func internMethod(m string) string {
	switch m {
	case http.MethodGet:
		return http.MethodGet
	case http.MethodPost:
		return http.MethodPost
	case http.MethodHead:
		return http.MethodHead
	case http.MethodDelete:
		return http.MethodDelete
	}
	return m
}

// canonicalKey returns name in canonical form without allocating when it
// already is (every common client sends canonical names).
func canonicalKey(name string) string {
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if (upper && 'a' <= c && c <= 'z') || (!upper && 'A' <= c && c <= 'Z') {
			return textproto.CanonicalMIMEHeaderKey(name)
		}
		upper = c == '-'
	}
	return name
}

// isToken: RFC 9110 §5.6.2 tchar+.
func isToken(s string) bool { return s != "" && allIn(s, &tokenChar) }

// validTarget accepts an origin-form target whose path and query need no
// escaping: url.URL.EscapedPath gives back exactly these bytes, so the
// request goes upstream as the client wrote it. Percent-encoding, fragments
// and anything outside RFC 3986's pchar set go to net/http.
func validTarget(t string) bool { return t != "" && t[0] == '/' && allIn(t, &targetChar) }

// charSet is an ASCII character class.
type charSet [128]bool

func allIn(s string, set *charSet) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || !set[c] {
			return false
		}
	}
	return true
}

// alnumPlus is the letters and digits plus extra.
func alnumPlus(extra string) (t charSet) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range extra {
		t[c] = true
	}
	return t
}

// Read-only tables.
var (
	tokenChar  = alnumPlus("!#$%&'*+-.^_`|~")
	targetChar = alnumPlus("-._~!$&'()*+,;=:@/?") // unreserved, sub-delims, ':', '@', '/', '?' (query)
)

// validFieldValue: visible ASCII, obs-text, space and tab; no CR, LF, NUL or
// other control characters.
func validFieldValue(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// validHost is a conservative host[:port]: the characters of a registered
// name, an IPv4 or a bracketed IPv6 address. Others go to net/http.
func validHost(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		ok := ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') ||
			c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_'
		if !ok {
			return false
		}
	}
	return true
}

// parseContentLength accepts 1–18 decimal digits, nothing else.
func parseContentLength(v string) (int64, bool) {
	if v == "" || len(v) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// connectionClose reads a Connection header: close and keep-alive are the
// fast path's; "upgrade" or any other option goes to net/http.
func connectionClose(v string) (closeConn, ok bool) {
	for v != "" {
		var tok string
		if i := indexByteStr(v, ','); i >= 0 {
			tok, v = trimOWS(v[:i]), v[i+1:]
		} else {
			tok, v = trimOWS(v), ""
		}
		switch {
		case tok == "":
		case asciiEqualFold(tok, "close"):
			closeConn = true
		case asciiEqualFold(tok, "keep-alive"):
		default:
			return false, false
		}
	}
	return closeConn, true
}

func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

package bridge

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

func TestScanMessages(t *testing.T) {
	tests := []struct {
		chunk    string
		prev     byte
		sse      bool
		messages int
		errLine  bool
	}{
		// Ollama's mid-stream error line, at the start of a chunk.
		{`{"error":"runner died"}` + "\n", '\n', false, 1, true},
		// At the very start of a stream.
		{`{"error":"x"}` + "\n", 0, false, 1, true},
		// After a token line in the same chunk, its own line unfinished.
		{`{"message":{"content":"a"}}` + "\n" + `{"error":"x"}`, 0, false, 1, true},
		// As an SSE data field, with and without the space.
		{"data: {\"error\":{\"message\":\"x\"}}\n\n", '\n', true, 1, true},
		{"data:{\"error\":{\"message\":\"x\"}}\n\n", '\n', true, 1, true},
		// In a token's text it is escaped, so not an error line.
		{`{"message":{"content":"{\"error\":1}"}}` + "\n", '\n', false, 1, false},
		// A nested key "error" is not a line start.
		{`{"x":{"error":1}}`, '\n', false, 0, false},
		// "data: " in the middle of a line is not a field.
		{`{"content":"data: {"error"`, '\n', true, 0, false},
		// A chunk that continues a line whose start we already passed.
		{`{"error":"x"}`, 'a', false, 0, false},
		// Several token lines; the last one cut.
		{"{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n{\"a\"", '\n', false, 3, false},
		// SSE: an event ends at a blank line; "\n\n\n" ends one.
		{"data: {}\n\ndata: {}\n\ndata: [DONE]\n\n", '\n', true, 3, false},
		{"data: {}\n\n\ndata: {}", '\n', true, 1, false},
		// SSE: the blank line's newline is the chunk's first byte.
		{"\ndata: {}\n", '\n', true, 1, false},
		{"\ndata: {}\n", 'a', true, 0, false},
		// A line start split at the chunk boundary.
		{"\n", '}', false, 1, false},
		{"", '\n', false, 0, false},
	}
	for _, tt := range tests {
		messages, errLine := scanMessages([]byte(tt.chunk), tt.prev, tt.sse)
		if messages != tt.messages || errLine != tt.errLine {
			t.Errorf("scanMessages(%q, %q, sse %v) = %d, %v; want %d, %v",
				tt.chunk, tt.prev, tt.sse, messages, errLine, tt.messages, tt.errLine)
		}
	}
}

// FuzzScanMessages holds the one-pass scan to the plain definitions: NDJSON
// messages are newlines, SSE events are "\n\n" counted without overlap
// (a newline just before the chunk included), and an error line is a line
// start followed by {"error", bare or after "data:" and an optional space.
func FuzzScanMessages(f *testing.F) {
	f.Add([]byte("{\"a\":1}\n{\"error\":\"x\"}\n"), byte('\n'), false)
	f.Add([]byte("\ndata: {}\n\n\ndata: {\"error\":1}\n\n"), byte('\n'), true)
	f.Add([]byte(`{"x":{"error":1}}`), byte(0), false)
	f.Fuzz(func(t *testing.T, chunk []byte, prev byte, sse bool) {
		messages, errLine := scanMessages(chunk, prev, sse)
		wantMessages := bytes.Count(chunk, []byte("\n"))
		if sse {
			c := chunk
			if prev == '\n' {
				c = append([]byte{'\n'}, chunk...)
			}
			wantMessages = bytes.Count(c, []byte("\n\n"))
		}
		wantErr := false
		for i := 0; i <= len(chunk); i++ {
			atStart := i == 0 && (prev == '\n' || prev == 0) || i > 0 && chunk[i-1] == '\n'
			if !atStart {
				continue
			}
			for _, p := range []string{`{"error"`, `data:{"error"`, `data: {"error"`} {
				if bytes.HasPrefix(chunk[i:], []byte(p)) {
					wantErr = true
				}
			}
		}
		if messages != wantMessages || errLine != wantErr {
			t.Fatalf("scanMessages(%q, %q, sse %v) = %d, %v; want %d, %v", chunk, prev, sse, messages, errLine, wantMessages, wantErr)
		}
	})
}

func TestStreamErrorLine(t *testing.T) {
	tests := []struct {
		contentType, want string
		ok                bool
	}{
		// Native NDJSON.
		{"application/x-ndjson", `{"error":"boom"}` + "\n", true},
		// OpenAI SSE.
		{"text/event-stream; charset=utf-8", `data: {"error":{"message":"boom","type":"api_error","param":null,"code":null}}` + "\n\n", true},
		// Anything else has no in-band error form.
		{"application/json", "", false},
	}
	for _, tt := range tests {
		got, ok := streamErrorLine(tt.contentType, "boom")
		if string(got) != tt.want || ok != tt.ok {
			t.Errorf("%s: %q %v; want %q %v", tt.contentType, got, ok, tt.want, tt.ok)
		}
	}
}

// writeCounter counts the Write calls on the connections a listener
// accepts: a probe on the server's side of a real loopback connection (a
// wrapped conn is written with plain Writes, rawsock.go), not a fake.
type writeCounter struct {
	net.Listener
	writes atomic.Int64
}

func (l *writeCounter) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countedConn{Conn: c, writes: &l.writes}, nil
}

type countedConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c *countedConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// TestRelayEndsStreamInOneWrite: a streamed answer that arrives whole (its
// last lines and the upstream's last-chunk in one read, as back-to-back
// tokens do) reaches the client in one write, head, lines and last-chunk
// together. Flushing the lines and sending the last-chunk after the handler
// returned took two, each a loopback write that runs the receiver's TCP
// path.
func TestRelayEndsStreamInOneWrite(t *testing.T) {
	var lines bytes.Buffer
	var chunked bytes.Buffer
	for i := range 8 {
		line := `{"model":"tiny","message":{"role":"assistant","content":"t` + strconv.Itoa(i) + `"},"done":false}` + "\n"
		lines.WriteString(line)
		fmt.Fprintf(&chunked, "%x\r\n%s\r\n", len(line), line)
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/ps" || r.URL.Path == "/api/tags" {
			_, _ = io.WriteString(w, `{"models":[{"name":"tiny:latest"}]}`)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		c, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n"+
			chunked.String()+"0\r\n\r\n")
	}))
	defer up.Close()
	_, h, _ := minimalBridge(t, nil, up.URL)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	counted := &writeCounter{Listener: ln}
	srv := newFastServer(h, &http.Server{Handler: h}, DefaultConfig().Server, discardLogger())
	go func() { _ = srv.Serve(counted) }()
	defer srv.Close()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	body := `{"model":"tiny","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	for i := range 3 {
		before := counted.writes.Load()
		fmt.Fprintf(c, "POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 || string(got) != lines.String() {
			t.Fatalf("request %d: %d %v, body %q; want 200 and the upstream's lines", i, resp.StatusCode, err, got)
		}
		// The handler may still be in its bookkeeping after the client
		// has the answer; its last write, if any, comes before it returns.
		time.Sleep(50 * time.Millisecond)
		if n := counted.writes.Load() - before; n != 1 {
			t.Errorf("request %d: the answer took %d writes to the client, want 1", i, n)
		}
	}
}

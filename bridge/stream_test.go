package bridge

import (
	"bytes"
	"testing"
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

package bridge

import "testing"

func TestHasErrorLine(t *testing.T) {
	tests := []struct {
		chunk string
		prev  byte
		want  bool
	}{
		// Ollama's mid-stream error line, at the start of a chunk.
		{`{"error":"runner died"}` + "\n", '\n', true},
		// After a token line in the same chunk.
		{`{"message":{"content":"a"}}` + "\n" + `{"error":"x"}`, 0, true},
		// As an SSE data field.
		{"data: {\"error\":{\"message\":\"x\"}}\n\n", '\n', true},
		// In a token's text it is escaped, so not an error line.
		{`{"message":{"content":"{\"error\":1}"}}` + "\n", '\n', false},
		// A nested key "error" is not a line start.
		{`{"x":{"error":1}}`, '\n', false},
		// A chunk that continues a line whose start we already passed.
		{`{"error":"x"}`, 'a', false},
	}
	for _, tt := range tests {
		if got := hasErrorLine([]byte(tt.chunk), tt.prev); got != tt.want {
			t.Errorf("hasErrorLine(%q, %q) = %v; want %v", tt.chunk, tt.prev, got, tt.want)
		}
	}
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

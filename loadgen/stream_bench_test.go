package loadgen

import "testing"

// BenchmarkParseNDJSONLine: the per-token cost of reading a native stream,
// which bounds how many tokens per second one core can time.
func BenchmarkParseNDJSONLine(b *testing.B) {
	line := []byte(`{"model":"tiny","created_at":"2026-11-26T21:21:24.11212524Z","message":{"role":"assistant","content":" she"},"done":false}`)
	b.ReportAllocs()
	for b.Loop() {
		if c, err := ParseNDJSONLine(line); err != nil || !c.Content {
			b.Fatal(c, err)
		}
	}
}

// BenchmarkParseSSELine: likewise for an OpenAI chunk.
func BenchmarkParseSSELine(b *testing.B) {
	line := []byte(`data: {"id":"chatcmpl-116","object":"chat.completion.chunk","created":1795728085,"model":"tiny","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":" they"},"finish_reason":null}]}`)
	b.ReportAllocs()
	for b.Loop() {
		if c, _, err := ParseSSELine(line); err != nil || !c.Content {
			b.Fatal(c, err)
		}
	}
}

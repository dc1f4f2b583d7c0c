package loadgen

import (
	"strings"
	"testing"
)

// TestFastPathShapes: the fast path takes the token lines real Ollama
// sends (so it is not dead code) and nothing that needs the decoder.
func TestFastPathShapes(t *testing.T) {
	for file, fast := range map[string]func([]byte) bool{
		"21_chat_stream.txt":        fastNativeToken,
		"12_generate_stream.txt":    fastNativeToken,
		"31_openai_chat_stream.txt": func(b []byte) bool { return fastOpenAIToken([]byte(strings.TrimPrefix(string(b), "data: "))) },
	} {
		taken, tokens := 0, 0
		for _, l := range readTranscript(t, file).lines {
			c, _ := ParseNDJSONLine([]byte(l.text))
			if sc, ok, _ := ParseSSELine([]byte(l.text)); ok {
				c = sc
			}
			if c.Content {
				tokens++
			}
			if fast([]byte(l.text)) {
				taken++
				if !c.Content || c.Done {
					t.Errorf("%s: fast path took %q", file, l.text)
				}
			}
		}
		if taken == 0 || taken != tokens {
			t.Errorf("%s: fast path took %d of %d token lines", file, taken, tokens)
		}
	}
	for _, l := range []string{
		`{"model":"m","created_at":"t","message":{"role":"assistant","content":""},"done":false}`,               // empty token
		`{"model":"m","created_at":"t","message":{"role":"assistant","content":"x"},"done":true}`,               // final
		`{"model":"m","created_at":"t","message":{"role":"assistant","content":"x","Content":""},"done":false}`, // case-folded duplicate
		`{"model":"m","created_at":"t","message":{"role":"assistant","content":"x"},"done":false,"DONE":true}`,
		`{"model":"m","created_at":"t","response":"\x","done":false}`, // bad escape: json.Valid refuses
		`{"model":"m","created_at":"t","response":"x","done":false}  `,
	} {
		if fastNativeToken([]byte(l)) {
			t.Errorf("fast path took %q", l)
		}
	}
}

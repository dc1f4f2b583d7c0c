package loadgen

import (
	"encoding/json"
)

// The fast path: Ollama sends one line per token, always in the same shape
// (Go's encoding/json writes struct fields in order). Recognising exactly
// that shape costs a fraction of decoding it with encoding/json, which
// raises the rate one core can time (see README "The generator's own
// ceiling"). Anything that deviates by a byte — another key, another order,
// an empty token, escapes in keys, case-folded duplicate keys that
// encoding/json would honour — falls back to the full decoder, so both
// paths give the same Chunk (FuzzFastPathAgrees checks it).

// Shapes of a plain token line, as constants (no package state): a NUL
// byte starts a placeholder, s = any JSON string, S = a non-empty JSON
// string (the token), n = digits.
const (
	shapeChat     = "{\"model\":\x00s,\"created_at\":\x00s,\"message\":{\"role\":\"assistant\",\"content\":\x00S},\"done\":false}"
	shapeGenerate = "{\"model\":\x00s,\"created_at\":\x00s,\"response\":\x00S,\"done\":false}"
	shapeOpenAI   = "{\"id\":\x00s,\"object\":\"chat.completion.chunk\",\"created\":\x00n,\"model\":\x00s,\"system_fingerprint\":\x00s," +
		"\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\x00S},\"finish_reason\":null}]}"
)

// matchShape reports whether b is exactly shape.
func matchShape(b []byte, shape string) bool {
	for i := 0; i < len(shape); i++ {
		c := shape[i]
		if c != 0 {
			if len(b) == 0 || b[0] != c {
				return false
			}
			b = b[1:]
			continue
		}
		i++
		switch shape[i] {
		case 'n':
			j := 0
			for j < len(b) && b[j] >= '0' && b[j] <= '9' {
				j++
			}
			if j == 0 {
				return false
			}
			b = b[j:]
		default: // 's', 'S'
			n := stringLen(b)
			if n < 2 || (shape[i] == 'S' && n == 2) {
				return false
			}
			b = b[n:]
		}
	}
	return len(b) == 0
}

// stringLen returns the length of the JSON string at the start of b,
// quotes included, or 0. It does not check escapes: json.Valid does, once,
// for the whole line.
func stringLen(b []byte) int {
	if len(b) == 0 || b[0] != '"' {
		return 0
	}
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return 0
}

// fastNativeToken reports whether line (trimmed) is a plain native token
// line, i.e. exactly Chunk{Content: true}.
func fastNativeToken(line []byte) bool {
	return (matchShape(line, shapeChat) || matchShape(line, shapeGenerate)) && json.Valid(line)
}

// fastOpenAIToken is the same for an SSE chunk's payload.
func fastOpenAIToken(payload []byte) bool {
	return matchShape(payload, shapeOpenAI) && json.Valid(payload)
}

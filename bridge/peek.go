package bridge

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// peeked is what the bridge needs from a request body: the model, whether
// the answer streams, and where the prompt is (for prefix affinity). It is
// found by scanning the top-level keys of the already validated JSON, never
// by decoding the whole body into Go values: chat bodies carry long message
// histories and images, and the bridge must not pay for them.
type peeked struct {
	model     string
	name      string // the deprecated "name" key; /api/show takes it when "model" is empty
	streamSet bool   // "stream" was present and a bool
	stream    bool
	prompt    []byte // raw value of "messages", "prompt" or "input"; nil if absent
}

var (
	errEmptyBody   = errors.New("missing request body")
	errNotAnObject = errors.New("json: request body must be a JSON object")
)

// peekBody checks that b is one JSON object and reads its model, stream and
// prompt keys. Like encoding/json, a repeated key's last value wins. The
// error is Go's own decoder message for malformed JSON, as Ollama gives.
func peekBody(b []byte) (peeked, error) {
	var p peeked
	if len(bytes.TrimSpace(b)) == 0 {
		return p, errEmptyBody
	}
	if !validJSON(b) {
		// Slow path, only for bad input: let the decoder word the error.
		var v any
		err := json.NewDecoder(bytes.NewReader(b)).Decode(&v)
		if err == nil {
			err = errors.New("invalid character after top-level value")
		}
		return p, err
	}
	i := skipWS(b, 0)
	if b[i] != '{' {
		return p, errNotAnObject
	}
	eachKey(b, func(key []byte, vs, ve int) {
		val := b[vs:ve]
		switch string(key) { // no allocation: the compiler special-cases this
		case "model":
			p.model = jsonString(val)
		case "name":
			p.name = jsonString(val)
		case "stream":
			p.streamSet = val[0] == 't' || val[0] == 'f'
			p.stream = val[0] == 't'
		case "messages", "prompt", "input":
			p.prompt = val
		}
	})
	return p, nil
}

// jsonString is the (valid) value val as a string, or "" if it is not one.
// Escapes and invalid UTF-8 go through encoding/json, which turns each bad
// byte into U+FFFD as Ollama's own decoder does (found by FuzzPeekBody).
func jsonString(val []byte) string {
	if val[0] != '"' {
		return ""
	}
	if bytes.IndexByte(val, '\\') < 0 && utf8.Valid(val) {
		return string(val[1 : len(val)-1])
	}
	var s string
	_ = json.Unmarshal(val, &s)
	return s
}

// eachKey calls fn with every top-level key of the JSON object b (valid)
// and where its value starts and ends. peekBody and the guard share it; fn
// does not escape, so a closure costs peekBody no allocation.
func eachKey(b []byte, fn func(key []byte, vs, ve int)) {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return
	}
	i = skipWS(b, i+1)
	for i < len(b) && b[i] != '}' {
		kEnd := skipString(b, i)
		key := b[i+1 : kEnd-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			var k string
			_ = json.Unmarshal(b[i:kEnd], &k)
			key = []byte(k)
		}
		i = skipWS(b, kEnd)
		i = skipWS(b, i+1) // past ':'
		vEnd := skipValue(b, i)
		fn(key, i, vEnd)
		i = skipWS(b, vEnd)
		if i < len(b) && b[i] == ',' {
			i = skipWS(b, i+1)
		}
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at b[i]=='"'.
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(b)
}

// skipValue returns the index just past the (valid) value starting at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = skipString(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
		j++
	}
	return j
}

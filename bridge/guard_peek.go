package bridge

import (
	"bytes"
	"strconv"
)

// tokenRequest is the output length a request asks for: options.num_predict
// on the native API, max_tokens (or max_completion_tokens) on /v1.
type tokenRequest struct {
	n   int64
	set bool
	key string
}

// requestedTokens reads it from a body peekBody has already validated.
// Only the guard calls it, and only when caps or token budgets are on.
func requestedTokens(body []byte, openai bool) tokenRequest {
	var t tokenRequest
	read := func(key string, val []byte) {
		if n, ok := jsonInt(val); ok {
			t = tokenRequest{n: n, set: true, key: key}
		}
	}
	eachKey(body, func(k []byte, vs, ve int) {
		switch {
		case openai && (string(k) == "max_tokens" || string(k) == "max_completion_tokens"):
			read(string(k), body[vs:ve])
		case !openai && string(k) == "options" && body[vs] == '{':
			opts := body[vs:ve]
			eachKey(opts, func(k2 []byte, s2, e2 int) {
				if string(k2) == "num_predict" {
					read("num_predict", opts[s2:e2])
				}
			})
		}
	})
	return t
}

// capTokens returns body asking for at most n output tokens, for a request
// that set no limit: num_predict goes into its options object (kept whole),
// or a new key is appended last, where it wins over an earlier null.
func capTokens(body []byte, openai bool, n int) []byte {
	num := strconv.Itoa(n)
	if !openai {
		at := -1
		eachKey(body, func(k []byte, vs, _ int) {
			if string(k) == "options" && body[vs] == '{' {
				at = vs + 1
			}
		})
		if at >= 0 {
			ins := `"num_predict":` + num
			if body[skipWS(body, at)] != '}' {
				ins += ","
			}
			return splice(body, at, ins)
		}
	}
	end := bytes.LastIndexByte(body, '}')
	ins := `"options":{"num_predict":` + num + `}`
	if openai {
		ins = `"max_tokens":` + num
	}
	if head := bytes.TrimSpace(body[:end]); len(head) > 0 && head[len(head)-1] != '{' {
		ins = "," + ins // not the first key
	}
	return splice(body, end, ins)
}

func splice(b []byte, at int, s string) []byte {
	out := make([]byte, 0, len(b)+len(s))
	out = append(out, b[:at]...)
	out = append(out, s...)
	return append(out, b[at:]...)
}

// jsonInt reads an integer-valued JSON number (100, 1e2, 100.0).
func jsonInt(v []byte) (int64, bool) {
	if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
		return n, true
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || f != float64(int64(f)) {
		return 0, false
	}
	return int64(f), true
}

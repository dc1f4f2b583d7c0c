package bridge

import "encoding/json"

// validJSON reports whether b is one JSON value, exactly as json.Valid does
// (FuzzValidJSON holds it to that), in one tight pass. json.Valid calls a
// state function per byte; on the bridge's hot path that was 1.7 % of its CPU
// for a 130-byte chat body, and a chat body with a long history is tens of
// kilobytes, all of it string bytes that this loop steps over at a compare
// each. Like json.Valid it does not check UTF-8 (the decoder replaces bad
// bytes, as Ollama's does).
func validJSON(b []byte) bool {
	// The open containers, '{' or '['. A body nested deeper than this is
	// no request Ollama knows: encoding/json decides (its limit is 10000).
	var stack [64]byte
	depth := 0
	i := skipWS(b, 0)
	for {
		// A value starts at i.
		if i >= len(b) {
			return false
		}
		switch c := b[i]; {
		case c == '{' || c == '[':
			end := byte('}')
			if c == '[' {
				end = ']'
			}
			i = skipWS(b, i+1)
			if i < len(b) && b[i] == end {
				i++
				break // an empty container: a whole value
			}
			if depth == len(stack) {
				return json.Valid(b)
			}
			stack[depth] = c
			depth++
			if c == '{' {
				if i = validKey(b, i); i < 0 {
					return false
				}
			}
			continue // the first member's value
		case c == '"':
			i = validString(b, i)
		case c == '-' || ('0' <= c && c <= '9'):
			i = validNumber(b, i)
		case c == 't':
			i = validLiteral(b, i, "true")
		case c == 'f':
			i = validLiteral(b, i, "false")
		case c == 'n':
			i = validLiteral(b, i, "null")
		default:
			return false
		}
		if i < 0 {
			return false
		}
		// A value ended at i: close containers until a comma leads to
		// the next value, or the input ends.
		for {
			i = skipWS(b, i)
			if depth == 0 {
				return i == len(b)
			}
			if i >= len(b) {
				return false
			}
			open := stack[depth-1]
			if b[i] == ',' {
				i = skipWS(b, i+1)
				if open == '{' {
					if i = validKey(b, i); i < 0 {
						return false
					}
				}
				break
			}
			if (open == '{' && b[i] == '}') || (open == '[' && b[i] == ']') {
				depth--
				i++
				continue
			}
			return false
		}
	}
}

// validKey checks `"key" :` at b[i] and returns where the member's value
// starts, or -1.
func validKey(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	if i = validString(b, i); i < 0 {
		return -1
	}
	i = skipWS(b, i)
	if i >= len(b) || b[i] != ':' {
		return -1
	}
	return skipWS(b, i+1)
}

// validString checks the string starting at b[i] == '"' and returns the
// index past its closing quote, or -1: no control character, only JSON's
// escapes.
func validString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return j + 1
		case c < 0x20:
			return -1
		case c == '\\':
			j++
			if j >= len(b) {
				return -1
			}
			switch b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(b) || !isHex(b[j+1]) || !isHex(b[j+2]) || !isHex(b[j+3]) || !isHex(b[j+4]) {
					return -1
				}
				j += 4
			default:
				return -1
			}
		}
	}
	return -1
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

// validNumber checks the number starting at b[i] and returns the index past
// it, or -1: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func validNumber(b []byte, i int) int {
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = skipDigits(b, i)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		if i++; i >= len(b) || !isDigit(b[i]) {
			return -1
		}
		i = skipDigits(b, i)
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return -1
		}
		i = skipDigits(b, i)
	}
	return i
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func skipDigits(b []byte, i int) int {
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}

// validLiteral checks true, false or null at b[i].
func validLiteral(b []byte, i int, lit string) int {
	if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
		return i + len(lit)
	}
	return -1
}

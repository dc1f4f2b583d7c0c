package ollamasim

import (
	"encoding/json"
	"strconv"
	"time"
)

// Streamed token frames are the simulator's hottest path: a 128-token
// stream spent 60 % of its CPU in json.Marshal. These append the exact bytes
// json.Marshal writes for the frame's Ollama type (encode_test.go checks
// them against it), falling back to json.Marshal for any string that needs
// escaping.

// appendJSONString appends s as json.Marshal would.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			j, _ := json.Marshal(s) // escaping, HTML-safe, UTF-8 repair: the slow way
			return append(b, j...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendTime appends t as time.Time.MarshalJSON does (RFC 3339, nanoseconds
// without trailing zeros).
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendChatToken is api.ChatResponse{Model, CreatedAt, Message: message(text,
// thinking)} marshalled, plus "\n".
func appendChatToken(b []byte, model string, now time.Time, text string, thinking bool) []byte {
	b = append(b, `{"model":`...)
	b = appendJSONString(b, model)
	b = append(b, `,"created_at":`...)
	b = appendTime(b, now)
	b = append(b, `,"message":{"role":"assistant","content":`...)
	if thinking && text != "" { // an empty thinking is omitted: "content":"" alone
		b = append(b, `"","thinking":`...)
	}
	b = appendJSONString(b, text)
	return append(b, "},\"done\":false}\n"...)
}

// appendGenerateToken is a streamed api.GenerateResponse, plus "\n".
func appendGenerateToken(b []byte, model string, now time.Time, text string, thinking bool) []byte {
	b = append(b, `{"model":`...)
	b = appendJSONString(b, model)
	b = append(b, `,"created_at":`...)
	b = appendTime(b, now)
	b = append(b, `,"response":`...)
	if thinking && text != "" { // an empty thinking is omitted: "content":"" alone
		b = append(b, `"","thinking":`...)
	}
	b = appendJSONString(b, text)
	return append(b, ",\"done\":false}\n"...)
}

// appendOpenAIChatToken is "data: " + openai.ToChunk(...) marshalled +
// "\n\n" for a token (no finish_reason).
func appendOpenAIChatToken(b []byte, id, model string, created int64, text string, thinking bool) []byte {
	b = append(b, `data: {"id":`...)
	b = appendJSONString(b, id)
	b = append(b, `,"object":"chat.completion.chunk","created":`...)
	b = strconv.AppendInt(b, created, 10)
	b = append(b, `,"model":`...)
	b = appendJSONString(b, model)
	b = append(b, `,"system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":`...)
	if thinking && text != "" { // an empty thinking is omitted: "content":"" alone
		b = append(b, `"","reasoning":`...)
	}
	b = appendJSONString(b, text)
	return append(b, "},\"finish_reason\":null}]}\n\n"...)
}

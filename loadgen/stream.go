package loadgen

import (
	"bytes"
	"encoding/json"
	"errors"
)

// Chunk is what one line of a response says, as far as a load test cares.
type Chunk struct {
	Content bool   // it carries generated output (a token: content, response, thinking or tool calls)
	Done    bool   // the final line: "done":true (native) or "data: [DONE]" (SSE)
	Tokens  int    // output tokens the server counted (eval_count, usage.completion_tokens); 0 = not given
	Err     string // the server reported an error in the stream ({"error":…})
}

// ndjsonLine holds the fields of an Ollama native stream line that loadgen
// reads (api.ChatResponse / api.GenerateResponse names), and nothing else,
// so decoding a token line stays cheap at thousands of lines per second.
type ndjsonLine struct {
	Message *struct {
		Content   string            `json:"content"`
		Thinking  string            `json:"thinking"`
		ToolCalls []json.RawMessage `json:"tool_calls"`
	} `json:"message"`
	Response  string          `json:"response"`
	Thinking  string          `json:"thinking"`
	Done      bool            `json:"done"`
	EvalCount int             `json:"eval_count"`
	Error     json.RawMessage `json:"error"`
}

// errNotObject: a stream line that is not a JSON object is a broken stream.
var errNotObject = errors.New("stream line is not a JSON object")

// ParseNDJSONLine reads one line of an Ollama native stream (/api/chat,
// /api/generate) or a whole non-streamed native body. A blank line is an
// empty Chunk; a line that is not a JSON object is an error.
func ParseNDJSONLine(line []byte) (Chunk, error) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return Chunk{}, nil
	}
	if line[0] != '{' {
		return Chunk{}, errNotObject
	}
	if fastNativeToken(line) {
		return Chunk{Content: true}, nil
	}
	var l ndjsonLine
	if err := json.Unmarshal(line, &l); err != nil {
		return Chunk{}, err
	}
	c := Chunk{Done: l.Done, Tokens: l.EvalCount, Err: errorText(l.Error)}
	c.Content = l.Response != "" || l.Thinking != ""
	if m := l.Message; m != nil {
		c.Content = c.Content || m.Content != "" || m.Thinking != "" || len(m.ToolCalls) > 0
	}
	return c, nil
}

// sseData holds the fields of an OpenAI chunk (chat.completion.chunk,
// text_completion) or whole response that loadgen reads.
type sseData struct {
	Choices []struct {
		Delta *struct {
			Content   string            `json:"content"`
			Reasoning string            `json:"reasoning"`
			ToolCalls []json.RawMessage `json:"tool_calls"`
		} `json:"delta"`
		Message *struct {
			Content string `json:"content"`
		} `json:"message"`
		Text string `json:"text"`
	} `json:"choices"`
	Usage *struct {
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
	Error json.RawMessage `json:"error"`
}

// ParseSSELine reads one line of an OpenAI-compatible server-sent-event
// stream. ok is false for lines that carry no data (blank separators,
// "event:", "id:", ": comments"), which the caller skips.
func ParseSSELine(line []byte) (c Chunk, ok bool, err error) {
	line = bytes.TrimRight(line, "\r\n")
	payload, found := bytes.CutPrefix(line, []byte("data:"))
	if !found {
		return Chunk{}, false, nil
	}
	payload = bytes.TrimSpace(payload)
	if bytes.Equal(payload, []byte("[DONE]")) {
		return Chunk{Done: true}, true, nil
	}
	c, err = parseOpenAIObject(payload)
	return c, true, err
}

// parseOpenAIObject reads one OpenAI JSON object: an SSE chunk's payload or
// a whole non-streamed response.
func parseOpenAIObject(b []byte) (Chunk, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return Chunk{}, errNotObject
	}
	if fastOpenAIToken(b) {
		return Chunk{Content: true}, nil
	}
	var d sseData
	if err := json.Unmarshal(b, &d); err != nil {
		return Chunk{}, err
	}
	c := Chunk{Err: errorText(d.Error)}
	if d.Usage != nil {
		c.Tokens = d.Usage.CompletionTokens
	}
	for _, ch := range d.Choices {
		if ch.Text != "" || (ch.Delta != nil && (ch.Delta.Content != "" || ch.Delta.Reasoning != "" || len(ch.Delta.ToolCalls) > 0)) ||
			(ch.Message != nil && ch.Message.Content != "") {
			c.Content = true
		}
	}
	return c, nil
}

// errorText turns an "error" member into text: native errors are strings,
// OpenAI ones objects with a message. Absent or null is "".
func errorText(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "" {
			return "error"
		}
		return s
	}
	var o struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(raw, &o) == nil && o.Message != "" {
		return o.Message
	}
	return string(raw)
}

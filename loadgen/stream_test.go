package loadgen

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestParseNDJSONLine(t *testing.T) {
	for _, tc := range []struct {
		line string
		want Chunk
		err  bool
	}{
		// a chat token
		{`{"model":"tiny","message":{"role":"assistant","content":" she"},"done":false}`, Chunk{Content: true}, false},
		// a generate token
		{`{"model":"tiny","response":" know","done":false}`, Chunk{Content: true}, false},
		// a thinking model's reasoning counts as output
		{`{"message":{"role":"assistant","content":"","thinking":"hmm"},"done":false}`, Chunk{Content: true}, false},
		// a tool call is output too
		{`{"message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"f"}}]},"done":false}`, Chunk{Content: true}, false},
		// the final line with the server's count
		{`{"message":{"role":"assistant","content":""},"done":true,"done_reason":"length","eval_count":24}`, Chunk{Done: true, Tokens: 24}, false},
		// a mid-stream error line under status 200
		{`{"error":"an error was encountered while running the model"}`, Chunk{Err: "an error was encountered while running the model"}, false},
		// blank lines are skipped
		{"  \r", Chunk{}, false},
		// not JSON: a broken stream
		{`data: {"x":1}`, Chunk{}, true},
		{`{"message":`, Chunk{}, true},
	} {
		got, err := ParseNDJSONLine([]byte(tc.line))
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseNDJSONLine(%q) = %+v, %v; want %+v, error %v", tc.line, got, err, tc.want, tc.err)
		}
	}
}

func TestParseSSELine(t *testing.T) {
	for _, tc := range []struct {
		line   string
		want   Chunk
		ok     bool
		hasErr bool
	}{
		// a content chunk
		{`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":" they"},"finish_reason":null}]}`, Chunk{Content: true}, true, false},
		// a completion chunk carries text
		{`data: {"choices":[{"text":" do","index":0}]}`, Chunk{Content: true}, true, false},
		// the finish chunk has empty content
		{`data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":"length"}]}`, Chunk{}, true, false},
		// include_usage's last chunk
		{`data: {"choices":[],"usage":{"prompt_tokens":43,"completion_tokens":8,"total_tokens":51}}`, Chunk{Tokens: 8}, true, false},
		// the end marker, with or without the space
		{"data: [DONE]", Chunk{Done: true}, true, false},
		{"data:[DONE]\r", Chunk{Done: true}, true, false},
		// an OpenAI error object
		{`data: {"error":{"message":"model 'x' not found","type":"api_error"}}`, Chunk{Err: "model 'x' not found"}, true, false},
		// lines without data
		{"", Chunk{}, false, false},
		{": keep-alive", Chunk{}, false, false},
		{"event: message", Chunk{}, false, false},
		// broken payload
		{"data: {", Chunk{}, true, true},
	} {
		got, ok, err := ParseSSELine([]byte(tc.line))
		if got != tc.want || ok != tc.ok || (err != nil) != tc.hasErr {
			t.Errorf("ParseSSELine(%q) = %+v, %v, %v; want %+v, %v, error %v", tc.line, got, ok, err, tc.want, tc.ok, tc.hasErr)
		}
	}
}

// TestClientGolden replays responses recorded from real Ollama, with their
// recorded timing, and checks what the client makes of them.
func TestClientGolden(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file     string
		endpoint Endpoint
		stream   bool
		tokens   int
		noDone   bool
		kind     ErrorKind
		ttft     time.Duration // recorded time of the first token; 0: none
	}{
		{"21_chat_stream.txt", EndpointChat, true, 24, false, "", 8700 * time.Microsecond},
		{"12_generate_stream.txt", EndpointGenerate, true, 0, false, "", 0},
		// Ollama's repeat rule ends the stream with no final line: not an error.
		{"26_chat_stream_repeat_abort.txt", EndpointChat, true, 0, true, "", 0},
		{"31_openai_chat_stream.txt", EndpointOpenAIChat, true, 16, false, "", 7200 * time.Microsecond},
		{"32_openai_chat_stream_usage.txt", EndpointOpenAIChat, true, 8, false, "", 0},
		{"20_chat_nonstream.txt", EndpointChat, false, 32, false, "", 0},
		{"30_openai_chat_nonstream.txt", EndpointOpenAIChat, false, 24, false, "", 0},
		{"34_openai_completions_nonstream.txt", EndpointOpenAICompletion, false, 12, false, "", 0},
		{"40_embed.txt", EndpointEmbed, false, 0, false, "", 0},
		{"42_openai_embeddings.txt", EndpointOpenAIEmbeddings, false, 0, false, "", 0},
		{"60_err_unknown_model_chat.txt", EndpointChat, true, 0, false, KindHTTP4xx, 0},
		{"60_err_unknown_model_openai.txt", EndpointOpenAIChat, true, 0, false, KindHTTP4xx, 0},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			tr := readTranscript(t, tc.file)
			srv := replay(t, tr)
			s := tc.stream
			e := MixEntry{Endpoint: tc.endpoint, Stream: &s}
			c := &Client{Timeout: 10 * time.Second}
			r := c.Do(context.Background(), &Target{Method: "POST", URL: srv.URL + string(tc.endpoint), Body: []byte(`{}`), Format: e.Format()}, time.Now())
			if r.Kind != tc.kind {
				t.Fatalf("kind %q (%s), want %q", r.Kind, r.Error, tc.kind)
			}
			if tc.kind != "" {
				if !strings.Contains(r.Error, "not found") {
					t.Errorf("error %q does not carry the server's message", r.Error)
				}
				return
			}
			lines := 0
			for _, l := range tr.lines {
				if c, _ := ParseNDJSONLine([]byte(l.text)); c.Content {
					lines++
				} else if c, _, _ := ParseSSELine([]byte(l.text)); c.Content {
					lines++
				}
			}
			want := tc.tokens
			if want == 0 && tc.stream {
				want = lines // no server count in the stream: counted lines
			}
			if r.OutputTokens != want {
				t.Errorf("output tokens %d, want %d", r.OutputTokens, want)
			}
			if r.NoDone != tc.noDone {
				t.Errorf("NoDone = %v, want %v", r.NoDone, tc.noDone)
			}
			if tc.stream && len(r.ITL) != lines-1 {
				t.Errorf("%d inter-token gaps for %d token lines", len(r.ITL), lines)
			}
			// Never before the recorded time; the upper bound is loose because
			// the machine is shared (TestRunStreamingTiming checks precision).
			if tc.ttft > 0 && (r.TTFT < tc.ttft || r.TTFT > tc.ttft+time.Second) {
				t.Errorf("TTFT %v, recorded %v", r.TTFT, tc.ttft)
			}
		})
	}
}

package loadgen

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseNDJSONLine: no line a server sends can crash the parser, and a
// line it accepts as output is never also the final one with an error.
func FuzzParseNDJSONLine(f *testing.F) {
	addGoldenLines(f)
	f.Add([]byte(`{"error":{"message":"x"}}`))
	f.Add([]byte(`{"message":null,"done":true,"eval_count":-1}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		c, err := ParseNDJSONLine(line)
		if err != nil && c != (Chunk{}) {
			t.Errorf("error %v with a non-empty chunk %+v", err, c)
		}
	})
}

// FuzzParseSSELine: likewise for OpenAI event-stream lines.
func FuzzParseSSELine(f *testing.F) {
	addGoldenLines(f)
	f.Add([]byte("data: [DONE]"))
	f.Add([]byte(": ping"))
	f.Fuzz(func(t *testing.T, line []byte) {
		c, ok, err := ParseSSELine(line)
		if !ok && (err != nil || c != (Chunk{})) {
			t.Errorf("a line without data gave %+v, %v", c, err)
		}
		if ok && !strings.HasPrefix(string(line), "data:") {
			t.Errorf("%q taken as data", line)
		}
	})
}

// FuzzParseMix: a mix file either parses into something Run can use, or is
// an error; never a panic or a mix with no usable entry.
func FuzzParseMix(f *testing.F) {
	f.Add([]byte(sampleMix))
	f.Add([]byte("requests:\n  - endpoint: /api/generate\n    max_tokens: 3\n"))
	f.Add([]byte("requests:\n  - prompt_tokens: {dist: normal, mean: 1e9}\n"))
	f.Add([]byte("requests: [{weight: 1e308}, {weight: 1e308}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseMix(data)
		if err != nil {
			return
		}
		tg := NewTargeter("http://127.0.0.1:1", m, "m", 1)
		for i := range uint64(4) {
			var tgt Target
			if err := tg(i, &tgt); err != nil {
				t.Fatalf("accepted mix cannot build request %d: %v", i, err)
			}
			if !tgt.Endpoint.valid() || len(tgt.Body) == 0 {
				t.Fatalf("bad target %+v", tgt)
			}
		}
	})
}

// addGoldenLines seeds a corpus with every body line of the recorded
// transcripts.
func addGoldenLines(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.txt"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if _, text, ok := strings.Cut(l, " ms] "); ok && strings.HasPrefix(l, "[+") {
				f.Add([]byte(text))
			}
		}
	}
}

// FuzzFastPathAgrees: the fast path for token lines gives exactly what the
// full decoder gives, for any line it accepts.
func FuzzFastPathAgrees(f *testing.F) {
	addGoldenLines(f)
	f.Add([]byte(`{"model":"m","created_at":"t","message":{"role":"assistant","content":"\u0041"},"done":false}`))
	f.Add([]byte(`{"model":"m","created_at":"t","response":"x\"y","done":false}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		line = bytes.TrimSpace(line)
		if p, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			line = bytes.TrimSpace(p)
		}
		if !fastNativeToken(line) && !fastOpenAIToken(line) {
			return
		}
		var nd ndjsonLine
		var sd sseData
		errN, errS := json.Unmarshal(line, &nd), json.Unmarshal(line, &sd)
		if errN != nil || errS != nil {
			t.Fatalf("fast path accepted %q, which does not decode: %v %v", line, errN, errS)
		}
		native := (nd.Message != nil && nd.Message.Content != "") || nd.Response != ""
		openai := len(sd.Choices) == 1 && sd.Choices[0].Delta != nil && sd.Choices[0].Delta.Content != ""
		if !(native || openai) || nd.Done || nd.EvalCount != 0 || len(nd.Error) != 0 || len(sd.Error) != 0 || sd.Usage != nil {
			t.Fatalf("fast path took %q for a plain token line; decoder says %+v %+v", line, nd, sd)
		}
	})
}

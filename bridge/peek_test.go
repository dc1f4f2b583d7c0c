package bridge

import (
	"encoding/json"
	"testing"
)

func TestPeekBody(t *testing.T) {
	tests := []struct {
		body      string
		model     string
		name      string
		streamSet bool
		stream    bool
		prompt    string
		wantErr   string
	}{
		// The common case: model first, stream omitted.
		{body: `{"model":"tiny","messages":[{"role":"user","content":"hi"}]}`, model: "tiny",
			prompt: `[{"role":"user","content":"hi"}]`},
		// stream false after nested values that contain braces in strings.
		{body: `{"messages":[{"content":"} { \" ]"}],"model":"m:7b","stream":false}`, model: "m:7b",
			streamSet: true, prompt: `[{"content":"} { \" ]"}]`},
		// Whitespace everywhere, stream true.
		{body: " {\n \"stream\" : true ,\t\"model\" : \"a/b:c\" } ", model: "a/b:c", streamSet: true, stream: true},
		// An escaped model name is unquoted.
		{body: `{"model":"ti\u006ey"}`, model: "tiny"},
		// An escaped key still counts.
		{body: `{"mod\u0065l":"tiny"}`, model: "tiny"},
		// Last duplicate wins, as in encoding/json.
		{body: `{"model":"a","model":"b"}`, model: "b"},
		// A nested "model" key is not the request's model.
		{body: `{"options":{"model":"x"},"prompt":"p"}`, prompt: `"p"`},
		// The deprecated "name" is read beside "model"; the route decides.
		{body: `{"name":"tiny"}`, name: "tiny"},
		// A non-string model is no model (the upstream decoder would reject it).
		{body: `{"model":5}`},
		// stream null leaves the route's default.
		{body: `{"model":"a","stream":null}`, model: "a"},
		// Empty body: Ollama's own message.
		{body: "  ", wantErr: "missing request body"},
		// Truncated JSON: Go's decoder message, as Ollama answers.
		{body: `{"model":"tiny","messages":[{"role":"user","content":"hi"}`, wantErr: "unexpected EOF"},
		// An array is not a request.
		{body: `[1,2]`, wantErr: errNotAnObject.Error()},
		// Trailing garbage.
		{body: `{} x`, wantErr: "invalid character after top-level value"},
	}
	for _, tt := range tests {
		p, err := peekBody([]byte(tt.body))
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("peekBody(%q) error = %v; want %q", tt.body, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("peekBody(%q): %v", tt.body, err)
			continue
		}
		if p.name != tt.name {
			t.Errorf("peekBody(%q) name = %q; want %q", tt.body, p.name, tt.name)
		}
		if p.model != tt.model || p.streamSet != tt.streamSet || p.stream != tt.stream || string(p.prompt) != tt.prompt {
			t.Errorf("peekBody(%q) = model %q stream %v/%v prompt %q; want %q %v/%v %q", tt.body,
				p.model, p.streamSet, p.stream, p.prompt, tt.model, tt.streamSet, tt.stream, tt.prompt)
		}
	}
}

// FuzzPeekBody checks the scanner against encoding/json on any input: it
// must never panic, must accept exactly the JSON objects, and must read the
// same model and stream values as a full decode.
func FuzzPeekBody(f *testing.F) {
	for _, s := range []string{`{"model":"tiny","stream":false,"messages":[]}`, `{"a":[{"b":"}"}],"model":"x"}`,
		`{"model":"\u0074"}`, `{`, `[]`, `{"stream":true}`, ` {"model" : "m" , "stream" : null } `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := peekBody(b)
		var m map[string]json.RawMessage
		jerr := json.Unmarshal(b, &m)
		if jerr != nil || m == nil {
			if err == nil && jerr != nil {
				t.Fatalf("peekBody accepted %q; encoding/json: %v", b, jerr)
			}
			return
		}
		if err != nil {
			t.Fatalf("peekBody rejected %q: %v", b, err)
		}
		var model string
		if raw, ok := m["model"]; ok {
			_ = json.Unmarshal(raw, &model)
		}
		var stream *bool
		if raw, ok := m["stream"]; ok {
			if json.Unmarshal(raw, &stream) != nil {
				stream = nil // not a bool: the route's default applies
			}
		}
		if p.model != model {
			t.Fatalf("%q: model %q; encoding/json %q", b, p.model, model)
		}
		if (stream != nil) != p.streamSet || (stream != nil && *stream != p.stream) {
			t.Fatalf("%q: stream %v/%v; encoding/json %v", b, p.streamSet, p.stream, stream)
		}
	})
}

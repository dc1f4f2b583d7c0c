package ollamasim_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dsbridge/dsbridge/ollamasim"
)

func newInstant(t testing.TB) *ollamasim.Server {
	t.Helper()
	s, err := ollamasim.New(ollamasim.Config{Profiles: ollamasim.Profiles{Default: ollamasim.InstantProfile()}}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestMalformedRequests: bad input gets Ollama's error shape, status and
// message (server/routes.go, middleware/openai.go, gin's ShouldBindJSON).
func TestMalformedRequests(t *testing.T) {
	ts := httptest.NewServer(newInstant(t))
	defer ts.Close()
	for _, c := range []struct {
		name, path, body string
		status           int
		want             string
	}{
		// An empty body is io.EOF from the decoder (transcript 62).
		{"empty body", "/api/chat", "", 400, `{"error":"missing request body"}`},
		// A truncated object (transcript 61).
		{"truncated", "/api/chat", `{"model":"x","messages":[{"role":"user","content":"hi"}`, 400, `{"error":"unexpected EOF"}`},
		{"not an object", "/api/chat", `[]`, 400, `{"error":"json: cannot unmarshal array into Go value of type api.ChatRequest"}`},
		{"wrong field type", "/api/chat", `{"model":1}`, 400, `{"error":"json: cannot unmarshal number into Go struct field ChatRequest.model of type string"}`},
		{"binary", "/api/generate", "\x00\xff", 400, `{"error":"invalid character '\\x00' looking for beginning of value"}`},
		{"bad keep_alive", "/api/generate", `{"model":"deepseek-r1:7b","keep_alive":true}`, 400, `{"error":"Unsupported type: 'bool'"}`},
		{"chat without model", "/api/chat", `{"messages":[{"role":"user","content":"x"}]}`, 400, `{"error":"model is required"}`},
		{"generate without model", "/api/generate", `{}`, 404, `{"error":"model '' not found"}`},
		{"embed bad input", "/api/embed", `{"model":"deepseek-r1:7b","input":5}`, 400, `{"error":"invalid input type"}`},
		{"embed mixed input", "/api/embed", `{"model":"deepseek-r1:7b","input":["a",1]}`, 400, `{"error":"invalid input type"}`},
		{"embeddings without model", "/api/embeddings", `{}`, 400, `{"error":"model is required"}`},
		{"embeddings unknown model", "/api/embeddings", `{"model":"x","prompt":"y"}`, 404, `{"error":"model \"x\" not found, try pulling it first"}`},
		// Options are type-checked like api.Options.FromMap, answered 500.
		{"bad option type", "/api/chat", `{"model":"deepseek-r1:7b","messages":[{"role":"user","content":"x"}],"options":{"num_predict":"many"}}`, 500, `{"error":"option \"num_predict\" must be of type integer"}`},
		{"bad stop type", "/api/generate", `{"model":"deepseek-r1:7b","prompt":"x","options":{"stop":[1]}}`, 500, `{"error":"option \"stop\" must be of an array of strings"}`},
		{"show without model", "/api/show", `{}`, 400, `{"error":"model is required"}`},
		{"show empty body", "/api/show", ``, 400, `{"error":"missing request body"}`},
		// /v1: the middleware's own errors carry the status's type.
		{"openai empty body", "/v1/chat/completions", "", 400, `{"error":{"message":"EOF","type":"invalid_request_error","param":null,"code":null}}`},
		{"openai no messages", "/v1/chat/completions", `{"model":"deepseek-r1:7b","messages":[]}`, 400, `{"error":{"message":"[] is too short - 'messages'","type":"invalid_request_error","param":null,"code":null}}`},
		{"openai embeddings no input", "/v1/embeddings", `{"model":"deepseek-r1:7b"}`, 400, `{"error":{"message":"invalid input","type":"invalid_request_error","param":null,"code":null}}`},
		{"openai embeddings bad format", "/v1/embeddings", `{"model":"deepseek-r1:7b","input":"x","encoding_format":"hex"}`, 400,
			`{"error":{"message":"Invalid value for 'encoding_format' = hex. Supported values: ['float', 'base64'].","type":"invalid_request_error","param":null,"code":null}}`},
		// …and the native handler's errors behind it are "api_error" with a newline.
		{"openai unknown model", "/v1/completions", `{"model":"x","prompt":"y"}`, 404, `{"error":{"message":"model 'x' not found","type":"api_error","param":null,"code":null}}` + "\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, h, b := post(t, ts.URL+c.path, c.body)
			if code != c.status || string(b) != c.want {
				t.Fatalf("%d %s\nwant %d %s", code, b, c.status, c.want)
			}
			if !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
				t.Fatalf("Content-Type %q", h.Get("Content-Type"))
			}
		})
	}
	t.Run("unknown path", func(t *testing.T) {
		resp, err := http.Get(ts.URL + "/api/nope")
		if err != nil || resp.StatusCode != 404 {
			t.Fatalf("%v %v", resp.StatusCode, err)
		}
		resp.Body.Close()
	})
}

// FuzzRequestDecoding throws arbitrary bodies at every generating
// endpoint: the simulator must answer (never panic, never hang) with
// either a success or Ollama's JSON error shape.
func FuzzRequestDecoding(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `[]`, `null`, `{"model":"deepseek-r1:7b"}`,
		`{"model":"deepseek-r1:7b","prompt":"hi","stream":false,"options":{"num_predict":3}}`,
		`{"model":"deepseek-r1:7b","messages":[{"role":"user","content":"hi"}],"options":{"num_predict":-1,"stop":["a"]}}`,
		`{"model":"deepseek-r1:7b","messages":[{"role":"user","content":"x"}],"keep_alive":"-1s","stream":true}`,
		`{"model":"deepseek-r1:7b","input":["a","b"],"dimensions":-4}`,
		`{"model":"deepseek-r1:7b","messages":[{"role":"user","content":"x"}],"max_tokens":2,"stream":true,"stream_options":{"include_usage":true}}`,
		`{"model":"deepseek-r1:7b","prompt":["a"],"max_tokens":1}`,
		`{"model":"deepseek-r1:7b","keep_alive":0}`,
		`{"model":"deepseek-r1:7b","options":{"num_ctx":"big"}}`,
		"\x00", `{"model":"\u0000"}`,
		`{"model":"deepseek-r1:7b","input":"hi","max_output_tokens":2,"stream":true}`,
		`{"model":"deepseek-r1:7b","input":[{"role":"user","content":"hi"}],"text":{"format":{"type":"json_object"}}}`,
		`{"model":"deepseek-r1:7b","messages":[{"role":"user","content":"hi"}],"max_tokens":2,"stream":true,"thinking":{"type":"enabled","budget_tokens":9}}`,
		`{"model":"deepseek-r1:7b","messages":[{"role":"user","content":"x"}],"format":{"type":"object","properties":{"a":{"type":["string","null"]},"b":{}}}}`,
		`{"source":"deepseek-r1:7b","destination":"x:y"}`,
	} {
		for p := range 11 {
			f.Add(uint8(p), []byte(seed))
		}
	}
	s := newInstant(f)
	paths := []string{"/api/generate", "/api/chat", "/api/embed", "/api/embeddings", "/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/api/show",
		"/v1/responses", "/v1/messages", "/api/copy"}
	f.Fuzz(func(t *testing.T, p uint8, body []byte) {
		path := paths[int(p)%len(paths)]
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code >= 400 {
			var e map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e["error"] == nil {
				t.Fatalf("%s %q: %d %q is not an error object", path, body, rec.Code, rec.Body.String())
			}
		} else if rec.Code != 200 {
			t.Fatalf("%s %q: status %d", path, body, rec.Code)
		}
	})
}

// newInstantModels is newInstant serving the given models.
func newInstantModels(t testing.TB, models ...string) *ollamasim.Server {
	t.Helper()
	s, err := ollamasim.New(ollamasim.Config{Models: models, Profiles: ollamasim.Profiles{Default: ollamasim.InstantProfile()}}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

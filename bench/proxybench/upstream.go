package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The stdlib upstream is the "3 stdlib upstreams": a tiny net/http
// server answering an Ollama-shaped /api/chat with no modelled delay, so that
// a benchmark through a proxy measures the proxy. It also answers the
// discovery endpoints a gateway polls (/, /api/version, /api/tags, /api/ps) so
// that a model-aware bridge routes to it as it would to Ollama.

// benchModel is the one model every upstream serves and every request names.
const benchModel = "bench:latest"

// createdAt is fixed: the point is a cheap, constant upstream, not a clock.
const createdAt = "2026-01-01T00:00:00.000000000Z"

// word returns the i-th token of a reply that looks like one, cycling.
func word(i int) string {
	w := [...]string{"The", " sky", " is", " blue", " because", " of", " Rayleigh", " scattering", ",", " which", " favours", " short", " wavelengths", "."}
	return w[i%len(w)]
}

// maxTokens bounds num_predict so a bad request cannot make a huge answer.
const maxTokens = 8192

// defaultTokens is what a request without options.num_predict gets.
const defaultTokens = 32

// upstream serves the stdlib upstream's endpoints; answers are rendered once
// per token count and then served from memory.
type upstream struct {
	model string

	mu       sync.Mutex
	rendered map[int]*rendered
}

// rendered is the precomputed answer for one token count: the whole
// non-streamed body and the NDJSON stream's lines (final line included).
type rendered struct {
	whole []byte
	lines [][]byte
}

func newUpstream(model string) *upstream {
	return &upstream{model: model, rendered: map[int]*rendered{}}
}

func runUpstream(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("upstream", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	model := fs.String("model", benchModel, "model name to serve")
	cc := fs.String("cc", "", "TCP congestion control of the listener and its connections (Linux; empty: the machine's default)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	lc := listenConfig(*cc)
	ln, err := lc.Listen(ctx, "tcp", *listen)
	if err != nil {
		if *cc != "" {
			return fmt.Errorf("listen with congestion control %q: %w", *cc, err)
		}
		return err
	}
	srv := &http.Server{Handler: newUpstream(*model).handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (u *upstream) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "Ollama is running")
	})
	mux.HandleFunc("HEAD /{$}", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("GET /api/version", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, `{"version":"0.12.0"}`)
	})
	mux.HandleFunc("GET /api/tags", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, fmt.Sprintf(`{"models":[{"name":%q,"model":%q,"modified_at":%q,"size":1000000,"digest":"0000000000000000000000000000000000000000000000000000000000000000","details":{"format":"gguf","family":"bench","parameter_size":"1B","quantization_level":"Q4_0"}}]}`, u.model, u.model, createdAt))
	})
	mux.HandleFunc("GET /api/ps", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, fmt.Sprintf(`{"models":[{"name":%q,"model":%q,"size":1000000,"digest":"0000000000000000000000000000000000000000000000000000000000000000","details":{"format":"gguf","family":"bench","parameter_size":"1B","quantization_level":"Q4_0"},"expires_at":"2099-01-01T00:00:00Z","size_vram":1000000}]}`, u.model, u.model))
	})
	mux.HandleFunc("POST /api/chat", u.chat)
	return mux
}

func writeJSON(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = io.WriteString(w, body)
}

// chatRequest holds the only fields of an Ollama chat request that shape the
// answer here. Stream is a pointer because Ollama streams when it is absent.
type chatRequest struct {
	Model   string `json:"model"`
	Stream  *bool  `json:"stream"`
	Options struct {
		NumPredict int `json:"num_predict"`
	} `json:"options"`
}

func (u *upstream) chat(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var req chatRequest
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":"invalid request"}`)
		return
	}
	if req.Model != u.model && req.Model+":latest" != u.model {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		_, _ = fmt.Fprintf(w, `{"error":"model '%s' not found"}`, req.Model)
		return
	}
	n := req.Options.NumPredict
	if n <= 0 {
		n = defaultTokens
	}
	n = min(n, maxTokens)
	ans := u.answer(n)
	if req.Stream != nil && !*req.Stream {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(ans.whole)))
		_, _ = w.Write(ans.whole)
		return
	}
	// One write and one flush per token, as Ollama does: the relay under test
	// has to pass on many small chunks, not one big body.
	w.Header().Set("Content-Type", "application/x-ndjson")
	rc := http.NewResponseController(w)
	for _, line := range ans.lines {
		if _, err := w.Write(line); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// answer returns the rendered answer for n tokens, rendering it on first use.
func (u *upstream) answer(n int) *rendered {
	u.mu.Lock()
	defer u.mu.Unlock()
	if a, ok := u.rendered[n]; ok {
		return a
	}
	a := render(u.model, n)
	u.rendered[n] = a
	return a
}

// render builds the Ollama-shaped answers for n tokens.
func render(model string, n int) *rendered {
	var content strings.Builder
	a := &rendered{lines: make([][]byte, 0, n+1)}
	for i := range n {
		tok := word(i)
		content.WriteString(tok)
		tokJSON, _ := json.Marshal(tok)
		a.lines = append(a.lines, fmt.Appendf(nil,
			`{"model":%q,"created_at":%q,"message":{"role":"assistant","content":%s},"done":false}`+"\n",
			model, createdAt, tokJSON))
	}
	stats := fmt.Sprintf(`"done_reason":"stop","done":true,"total_duration":%d,"load_duration":1000000,"prompt_eval_count":12,"prompt_eval_duration":2000000,"eval_count":%d,"eval_duration":%d`,
		3000000+n*1000000, n, n*1000000)
	a.lines = append(a.lines, fmt.Appendf(nil,
		`{"model":%q,"created_at":%q,"message":{"role":"assistant","content":""},%s}`+"\n", model, createdAt, stats))
	contentJSON, _ := json.Marshal(content.String())
	a.whole = fmt.Appendf(nil, `{"model":%q,"created_at":%q,"message":{"role":"assistant","content":%s},%s}`,
		model, createdAt, contentJSON, stats)
	return a
}

package loadgen

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeOllama is a small Ollama stand-in with exactly known timing, so tests
// can check what the generator measures against what the server did. The
// real simulator (dsbridge sim) is used where the point is a real process.
type fakeOllama struct {
	Delay    time.Duration // before the status line
	First    time.Duration // after the headers, before the first token
	Interval time.Duration // between tokens
	Tokens   int           // tokens per streamed answer

	mu         sync.Mutex
	stallUntil time.Time // requests arriving before this wait until it
}

// stall makes every request that arrives during the next d wait until d
// has passed: a hung upstream that recovers.
func (f *fakeOllama) stall(d time.Duration) {
	f.mu.Lock()
	f.stallUntil = time.Now().Add(d)
	f.mu.Unlock()
}

func (f *fakeOllama) start(t testing.TB) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv
}

func (f *fakeOllama) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/api/tags" {
		fmt.Fprint(w, `{"models":[{"name":"tiny:latest","model":"tiny:latest"}]}`)
		return
	}
	var req struct {
		Model  string `json:"model"`
		Stream *bool  `json:"stream"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":%q}`, err.Error())
		return
	}
	f.mu.Lock()
	until := f.stallUntil
	f.mu.Unlock()
	if d := time.Until(until); d > 0 {
		time.Sleep(d)
	}
	if f.Delay > 0 {
		time.Sleep(f.Delay)
	}
	stream := req.Stream == nil || *req.Stream
	openai := strings.HasPrefix(r.URL.Path, "/v1/")
	if !stream {
		w.Header().Set("Content-Type", "application/json")
		if openai {
			fmt.Fprintf(w, `{"choices":[{"message":{"content":"x"}}],"usage":{"completion_tokens":%d}}`, f.Tokens)
		} else {
			fmt.Fprintf(w, `{"model":%q,"message":{"role":"assistant","content":"x"},"done":true,"eval_count":%d}`, req.Model, f.Tokens)
		}
		return
	}
	fl := w.(http.Flusher)
	if openai {
		w.Header().Set("Content-Type", "text/event-stream")
	} else {
		w.Header().Set("Content-Type", "application/x-ndjson")
	}
	w.WriteHeader(http.StatusOK)
	fl.Flush()
	if f.First > 0 {
		time.Sleep(f.First)
	}
	for i := range f.Tokens {
		if i > 0 && f.Interval > 0 {
			time.Sleep(f.Interval)
		}
		if openai {
			fmt.Fprint(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" tok\"},\"finish_reason\":null}]}\n\n")
		} else {
			fmt.Fprintf(w, `{"model":%q,"message":{"role":"assistant","content":" tok"},"done":false}`+"\n", req.Model)
		}
		fl.Flush()
	}
	if openai {
		fmt.Fprintf(w, "data: {\"choices\":[],\"usage\":{\"completion_tokens\":%d}}\n\ndata: [DONE]\n\n", f.Tokens)
	} else {
		fmt.Fprintf(w, `{"model":%q,"message":{"role":"assistant","content":""},"done":true,"done_reason":"length","eval_count":%d}`+"\n", req.Model, f.Tokens)
	}
}

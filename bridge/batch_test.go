package bridge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dsbridge/dsbridge/internal/testproc"
)

// batchingBridge runs a real bridge with embedding batching on.
func batchingBridge(t *testing.T, maxWait string, sim *testproc.Proc) *testproc.Proc {
	t.Helper()
	b, _ := startBridge(t, upstreamsYAML([]string{sim.URL})+"batch:\n  max_wait: "+maxWait+"\n  max_inputs: 256\n")
	return b
}

// concurrently posts bodies at once and returns each status and body.
func concurrently(t *testing.T, url string, bodies []string) ([]int, []string) {
	t.Helper()
	codes, out := make([]int, len(bodies)), make([]string, len(bodies))
	var wg sync.WaitGroup
	for i, body := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(url, "application/json", strings.NewReader(body))
			if err != nil {
				out[i] = err.Error()
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			codes[i], out[i] = resp.StatusCode, string(b)
		}()
	}
	wg.Wait()
	return codes, out
}

func TestEmbedBatchingSplitsAnswers(t *testing.T) {
	sim := startSim(t)
	// A wide window so that the requests below surely share a call.
	b := batchingBridge(t, "300ms", sim)

	// /api/embed: each member gets exactly the vectors the simulator gives
	// for its inputs alone, and its own spelling of the model.
	var bodies, direct []string
	for i := 0; i < 8; i++ {
		model := "tiny"
		if i%2 == 1 {
			model = "tiny:latest"
		}
		input := fmt.Sprintf(`["first input %d","second input %d"]`, i, i)
		if i%3 == 0 {
			input = fmt.Sprintf(`"single input %d"`, i)
		}
		bodies = append(bodies, fmt.Sprintf(`{"model":%q,"input":%s,"dimensions":8}`, model, input))
	}
	codes, got := concurrently(t, b.URL+"/api/embed", bodies)
	callsBatched := simCalls(t, sim, "/api/embed")
	for _, body := range bodies {
		_, _, want := postX(t, sim.URL+"/api/embed", body)
		direct = append(direct, want)
	}
	for i := range bodies {
		var g, w struct {
			Model           string      `json:"model"`
			Embeddings      [][]float32 `json:"embeddings"`
			PromptEvalCount int         `json:"prompt_eval_count"`
		}
		if codes[i] != 200 || json.Unmarshal([]byte(got[i]), &g) != nil || json.Unmarshal([]byte(direct[i]), &w) != nil {
			t.Fatalf("request %d: %d %s", i, codes[i], got[i])
		}
		if g.Model != w.Model || fmt.Sprint(g.Embeddings) != fmt.Sprint(w.Embeddings) || g.PromptEvalCount < 1 {
			t.Errorf("request %d: batched %s\n  alone %s", i, got[i], direct[i])
		}
	}
	if callsBatched >= 8 {
		t.Errorf("8 concurrent embeds made %v upstream calls; want them merged", callsBatched)
	}
	t.Logf("8 concurrent /api/embed requests: %v upstream call(s)", callsBatched)

	// /v1/embeddings: data renumbered from 0 for each member.
	var v1 []string
	for i := 0; i < 4; i++ {
		v1 = append(v1, fmt.Sprintf(`{"model":"tiny","input":["a %d","b %d","c %d"],"dimensions":4}`, i, i, i))
	}
	codes, got = concurrently(t, b.URL+"/v1/embeddings", v1)
	for i := range v1 {
		var g struct {
			Object string `json:"object"`
			Model  string `json:"model"`
			Data   []struct {
				Index     int       `json:"index"`
				Embedding []float32 `json:"embedding"`
			} `json:"data"`
			Usage struct {
				PromptTokens int `json:"prompt_tokens"`
				TotalTokens  int `json:"total_tokens"`
			} `json:"usage"`
		}
		if codes[i] != 200 || json.Unmarshal([]byte(got[i]), &g) != nil || g.Object != "list" || g.Model != "tiny" || len(g.Data) != 3 {
			t.Fatalf("v1 request %d: %d %s", i, codes[i], got[i])
		}
		for j, d := range g.Data {
			if d.Index != j || len(d.Embedding) != 4 {
				t.Errorf("v1 request %d item %d: index %d, %d dims", i, j, d.Index, len(d.Embedding))
			}
		}
		if g.Usage.PromptTokens < 1 || g.Usage.TotalTokens != g.Usage.PromptTokens {
			t.Errorf("v1 request %d: usage %+v", i, g.Usage)
		}
	}
	if n := metricValue(t, b.URL, "bridge_embed_batch_requests_count"); n < 1 || n >= 12 {
		t.Errorf("bridge_embed_batch_requests_count = %v for 12 requests; want merged calls", n)
	}
}

func TestEmbedBatchingErrors(t *testing.T) {
	sim := startSim(t, "--context-length", "16")
	b := batchingBridge(t, "300ms", sim)

	// One member's input is over the context with truncate off: the merged
	// call's 400 sends every member on its own, so only that one fails.
	bodies := []string{
		`{"model":"tiny","input":"short one","truncate":false}`,
		`{"model":"tiny","input":"` + strings.Repeat("far too long ", 40) + `","truncate":false}`,
		`{"model":"tiny","input":"short two","truncate":false}`,
	}
	codes, got := concurrently(t, b.URL+"/api/embed", bodies)
	if codes[0] != 200 || codes[1] != 400 || codes[2] != 200 {
		t.Errorf("a member's 400: statuses %v; want [200 400 200]\n%v", codes, got)
	}

	// An upstream failure reaches every member.
	setFaults(t, sim, `{"kind":"error","status":500,"message":"runner crashed","paths":["/api/embed"]}`)
	codes, got = concurrently(t, b.URL+"/api/embed", []string{
		`{"model":"tiny","input":"x1"}`, `{"model":"tiny","input":"x2"}`, `{"model":"tiny","input":"x3"}`})
	for i := range codes {
		if codes[i] != 500 || !strings.Contains(got[i], "runner crashed") {
			t.Errorf("member %d of a failed call: %d %s; want the upstream's 500", i, codes[i], got[i])
		}
	}
}

// TestEmbedBatchingThroughput measures /api/embed throughput through a
// bridge without and with batching, one after the other against the same
// simulator, in one run. The simulator's default profile charges an
// embedding call a fixed 30 ms plus 0.5 ms per input token, one call at a
// time per model (--parallel 1, Ollama's default): the fixed part is what
// batching saves.
func TestEmbedBatchingThroughput(t *testing.T) {
	sim := testproc.Start(t, "sim", "/", "--models", "tiny", "--load-time", "0s")
	plain, _ := startBridge(t, upstreamsYAML([]string{sim.URL}))
	batched := batchingBridge(t, "2ms", sim)

	const clients, dur = 32, 3 * time.Second
	measure := func(url string) float64 {
		ctx, cancel := context.WithTimeout(context.Background(), dur)
		defer cancel()
		var ok, failed atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for c := 0; c < clients; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ctx.Err() == nil; i++ {
					body := fmt.Sprintf(`{"model":"tiny","input":"client %d sentence number %d to embed"}`, c, i)
					req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/api/embed", strings.NewReader(body))
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						continue // the deadline cut it
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == 200 {
						ok.Add(1)
					} else {
						failed.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		if failed.Load() > 0 {
			t.Errorf("%s: %d failed requests", url, failed.Load())
		}
		return float64(ok.Load()) / time.Since(start).Seconds()
	}
	postX(t, sim.URL+"/api/embed", `{"model":"tiny","input":"warm up"}`)
	without := measure(plain.URL)
	with := measure(batched.URL)
	calls := metricValue(t, batched.URL, "bridge_embed_batch_requests_count")
	merged := metricValue(t, batched.URL, "bridge_embed_batch_requests_sum")
	t.Logf("/api/embed, %d clients, %v each: without batching %.0f req/s, with batching %.0f req/s (%.1fx); %.1f requests per upstream call",
		clients, dur, without, with, with/without, merged/max(calls, 1))
	if with < 1.5*without {
		t.Errorf("batching gave %.0f req/s against %.0f without; want at least 1.5x", with, without)
	}
}

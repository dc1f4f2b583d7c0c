package ollamasim_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"
)

// streamResult is one concurrent stream as the client saw it.
type streamResult struct {
	status      int
	body        string
	headersAt   time.Duration // when the status line and headers arrived
	lastByteAt  time.Duration
	lines       int
	contentType string
}

// burst sends n concurrent streaming requests and waits for all of them.
func burst(t *testing.T, url string, n int, body func(i int) string) []streamResult {
	t.Helper()
	out := make([]streamResult, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(url, "application/json", bytes.NewBufferString(body(i)))
			if err != nil {
				t.Errorf("request %d: %v", i, err)
				return
			}
			defer resp.Body.Close()
			r := streamResult{status: resp.StatusCode, headersAt: time.Since(start), contentType: resp.Header.Get("Content-Type")}
			sc := bufio.NewScanner(resp.Body)
			var all bytes.Buffer
			for sc.Scan() {
				if len(sc.Bytes()) > 0 {
					r.lines++
				}
				all.Write(sc.Bytes())
				all.WriteByte('\n')
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			r.lastByteAt = time.Since(start)
			r.body = all.String()
			out[i] = r
		}()
	}
	wg.Wait()
	return out
}

// TestSchedulerQueue is Ollama v0.17.4's scheduler as recorded (golden
// README, transcripts 80 and 81) with OLLAMA_NUM_PARALLEL=1
// OLLAMA_MAX_QUEUE=2 and 8 concurrent long streams:
//   - at a model that is not loaded, 3 are served (one loading, two
//     pending) and 5 get 503 at once, in the native and the OpenAI forms;
//   - at a loaded model all 8 are served, one at a time, and none gets
//     503: the bound applies only while a model is scheduled (ollama#7758);
//     a queued request gets no headers until its first token.
func TestSchedulerQueue(t *testing.T) {
	const load = time.Second
	p := startSim(t, "--parallel", "1", "--max-queue", "2", "--load-time", load.String(),
		"--ttft", "0", "--prefill-per-token", "0", "--tokens-per-second", "100")
	native := func(i int) string {
		return fmt.Sprintf(`{"model":"deepseek-r1:7b","messages":[{"role":"user","content":"request %d: say hello"}],"options":{"num_predict":20}}`, i)
	}
	openaiBody := func(i int) string {
		return fmt.Sprintf(`{"model":"llama3.2:3b","messages":[{"role":"user","content":"request %d"}],"stream":true,"max_tokens":20}`, i)
	}
	count := func(rs []streamResult) (ok, busy int) {
		for _, r := range rs {
			switch r.status {
			case 200:
				ok++
			case 503:
				busy++
			}
		}
		return
	}

	t.Run("cold native", func(t *testing.T) {
		rs := burst(t, p.URL+"/api/chat", 8, native)
		ok, busy := count(rs)
		if ok != 3 || busy != 5 {
			t.Fatalf("%d served, %d got 503; want 3 and 5", ok, busy)
		}
		for _, r := range rs {
			if r.status != 503 {
				continue
			}
			if r.body != "{\"error\":\"server busy, please try again.  maximum pending requests exceeded\"}\n" || r.contentType != "application/json; charset=utf-8" {
				t.Errorf("503 body %q (%s)", r.body, r.contentType)
			}
			// "At once": well before the load could have finished.
			if r.headersAt > load/2 {
				t.Errorf("503 after %v; want at once (load takes %v)", r.headersAt, load)
			}
		}
	})
	t.Run("cold openai", func(t *testing.T) {
		rs := burst(t, p.URL+"/v1/chat/completions", 8, openaiBody)
		ok, busy := count(rs)
		if ok != 3 || busy != 5 {
			t.Fatalf("%d served, %d got 503; want 3 and 5", ok, busy)
		}
		for _, r := range rs {
			if r.status == 503 && r.body != `{"error":{"message":"server busy, please try again.  maximum pending requests exceeded","type":"api_error","param":null,"code":null}}`+"\n" {
				t.Errorf("503 body %q", r.body)
			}
			if r.status == 200 && r.contentType != "text/event-stream" {
				t.Errorf("stream content type %q", r.contentType)
			}
		}
	})
	t.Run("warm native", func(t *testing.T) {
		rs := burst(t, p.URL+"/api/chat", 8, native)
		ok, busy := count(rs)
		if ok != 8 || busy != 0 {
			t.Fatalf("%d served, %d got 503; want 8 and 0", ok, busy)
		}
		// One at a time: sorted by when their headers came (headers wait
		// for the first token), consecutive streams are a stream apart.
		// 20 tokens at 100/s is ~190 ms per stream; concurrent streams
		// would get their headers together. A lower bound only: a busy
		// machine can only stretch the gaps.
		sort.Slice(rs, func(i, j int) bool { return rs[i].headersAt < rs[j].headersAt })
		for i := 1; i < len(rs); i++ {
			if gap := rs[i].headersAt - rs[i-1].headersAt; gap < 120*time.Millisecond {
				t.Errorf("stream %d got headers %v after stream %d; want one stream (~190ms) apart", i, gap, i-1)
			}
			if rs[i].lines != 21 {
				t.Errorf("stream %d: %d lines, want 21", i, rs[i].lines)
			}
		}
		if last := rs[len(rs)-1].headersAt; last < 7*150*time.Millisecond {
			t.Errorf("last stream's headers at %v; want after ~7 streams of ~200ms", last)
		}
	})
}

// TestSchedulerStrictQueue: with --strict-queue the bound also applies to
// a loaded model, as a fixed Ollama would behave.
func TestSchedulerStrictQueue(t *testing.T) {
	p := startSim(t, "--parallel", "1", "--max-queue", "2", "--strict-queue", "--load-time", "0",
		"--ttft", "0", "--prefill-per-token", "0", "--tokens-per-second", "200")
	body := func(i int) string {
		return fmt.Sprintf(`{"model":"deepseek-r1:7b","messages":[{"role":"user","content":"r%d"}],"options":{"num_predict":20}}`, i)
	}
	post(t, p.URL+"/api/chat", `{"model":"deepseek-r1:7b","messages":[]}`) // load it
	rs := burst(t, p.URL+"/api/chat", 8, body)
	ok := 0
	for _, r := range rs {
		if r.status == 200 {
			ok++
		}
	}
	if ok != 3 {
		t.Fatalf("%d served; want 3 (1 running + 2 queued)", ok)
	}
}

package ollamasim_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestPrefillScalesWithPrompt: prompt evaluation time is proportional to
// prompt tokens.
func TestPrefillScalesWithPrompt(t *testing.T) {
	p := startSim(t, "--load-time", "0", "--ttft", "0", "--prefill-per-token", "2ms", "--tokens-per-second", "0")
	evalDur := func(prompt string) (time.Duration, float64) {
		_, _, b := post(t, p.URL+"/api/chat", fmt.Sprintf(`{"model":"deepseek-r1:7b","messages":[{"role":"user","content":%q}],"stream":false,"options":{"num_predict":1}}`, prompt))
		r := mustJSON(t, b)
		return time.Duration(r["prompt_eval_duration"].(float64)), r["prompt_eval_count"].(float64)
	}
	short, ns := evalDur("hi")
	long, nl := evalDur(strings.Repeat("word ", 200))
	if nl < 200 || ns > 10 {
		t.Fatalf("prompt_eval_count %v and %v", ns, nl)
	}
	if long < 400*time.Millisecond || long < 10*short {
		t.Fatalf("prefill %v for %v tokens, %v for %v; want ∝ tokens at 2ms each", long, nl, short, ns)
	}
}

// TestDecodeSlowsWhenShared: streams that share a model decode slower.
func TestDecodeSlowsWhenShared(t *testing.T) {
	p := startSim(t, "--parallel", "4", "--load-time", "0", "--ttft", "0", "--prefill-per-token", "0",
		"--tokens-per-second", "100", "--batch-slowdown", "1")
	body := func(i int) string {
		return fmt.Sprintf(`{"model":"deepseek-r1:7b","messages":[{"role":"user","content":"r%d"}],"stream":false,"options":{"num_predict":20}}`, i)
	}
	evalDur := func(i int) time.Duration {
		_, _, b := post(t, p.URL+"/api/chat", body(i))
		r := mustJSON(t, b)
		if r["eval_count"].(float64) != 20 {
			t.Errorf("eval_count %v", r["eval_count"])
		}
		return time.Duration(r["eval_duration"].(float64))
	}
	alone := evalDur(0)
	var mu sync.Mutex
	var shared []time.Duration
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := evalDur(i + 1)
			mu.Lock()
			shared = append(shared, d)
			mu.Unlock()
		}()
	}
	wg.Wait()
	var sum time.Duration
	for _, d := range shared {
		sum += d
	}
	mean := sum / time.Duration(len(shared))
	// Alone: 19 intervals of 10ms. Four together at slowdown 1: up to 4×.
	if alone < 150*time.Millisecond || mean < 2*alone {
		t.Fatalf("eval %v alone, %v mean of 4 sharing; want sharing ≥ 2× slower", alone, mean)
	}
}

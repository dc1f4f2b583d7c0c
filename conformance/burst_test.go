package conformance

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// burstSize concurrent streams against NUM_PARALLEL=1 MAX_QUEUE=2, as in
// golden transcripts 80 and 81.
const burstSize = 8

// burstRequest is a streamed chat long enough to overlap with the others.
var burstRequest = Request{
	Name: "burst_chat_stream",
	Path: "/api/chat",
	Body: `{"model":"tiny","messages":[{"role":"user","content":"Why is the sky blue?"}],"options":{"num_predict":16,"seed":42}}`,
}

// TestSchedulerBurst checks Ollama's scheduler limits, which a bridge
// must live with: with the model not loaded, a burst overflows the bounded
// pending queue and the excess gets 503 at once; with the model loaded,
// the same burst is all served, one at a time, with no 503 (ollama#7758).
func TestSchedulerBurst(t *testing.T) {
	env := []string{"OLLAMA_NUM_PARALLEL=1", "OLLAMA_MAX_QUEUE=2"}
	real := startReal(t, env...)
	sim := startSim(t, "--parallel", "1", "--max-queue", "2")
	known := knownDifferences(t)

	for _, phase := range []string{"cold", "warm"} {
		// Both servers in step: cold first (nothing loaded), then warm.
		summaries := map[string][]string{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for side, base := range map[string]string{"real": real.URL, "sim": sim.URL} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				if phase == "warm" {
					// Load the model and wait until it is loaded.
					Do(ctx, base, Request{Path: "/api/chat", Body: `{"model":"tiny","messages":[]}`})
				}
				s := summarise(burst(ctx, base))
				mu.Lock()
				summaries[side] = s
				mu.Unlock()
			}()
		}
		wg.Wait()
		compare(t, known, "burst_"+phase, fmt.Sprintf("%s burst of %d streams, NUM_PARALLEL=1 MAX_QUEUE=2", phase, burstSize), summaries["real"], summaries["sim"])
		if phase == "cold" {
			// Let both finish serving and settle before the warm burst.
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// burst sends burstSize copies of burstRequest at once.
func burst(ctx context.Context, base string) []Exchange {
	out := make([]Exchange, burstSize)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i] = Do(ctx, base, burstRequest)
		}()
	}
	close(start)
	wg.Wait()
	return out
}

// summarise renders each exchange and counts identical renders, so the
// comparison says "3× this 200 stream, 5× this 503" whatever the order in
// which the requests were served.
func summarise(xs []Exchange) []string {
	count := map[string]int{}
	for _, x := range xs {
		r := Render(x)
		if x.Status == 200 {
			r = append(r, headerTiming(x))
		}
		count[strings.Join(r, "\n")]++
	}
	keys := make([]string, 0, len(count))
	for k := range count {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		out = append(out, fmt.Sprintf("%d× of %d:", count[k], len(xs)))
		out = append(out, indent(k)...)
	}
	return out
}

// headerTiming says whether the headers came with the first body line, as
// Ollama sends them for a queued request, or well before it (50 ms leaves
// room for scheduling noise; a queued request in a burst waits far longer).
func headerTiming(x Exchange) string {
	if early := x.FirstByteAt - x.HeaderAt; early > 50*time.Millisecond {
		return "headers: before the first body byte"
	}
	return "headers: with the first body byte"
}

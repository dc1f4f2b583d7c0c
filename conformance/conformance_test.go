package conformance

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestCorpus sends the corpus to real Ollama and to the simulator, each
// fresh, and compares every exchange. A failure prints a diff: "-" lines are
// what real Ollama answered, "+" lines what the simulator answered.
func TestCorpus(t *testing.T) {
	real := startReal(t)
	sim := startSim(t)
	corpus := Corpus()

	// The two servers run the corpus at the same time (each in order), so
	// the suite takes as long as the slower of them, not the sum.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	results := map[string][]Exchange{}
	var mu sync.Mutex
	for side, base := range map[string]string{"real": real.URL, "sim": sim.URL} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var xs []Exchange
			for _, r := range corpus {
				xs = append(xs, Send(ctx, base, r))
			}
			mu.Lock()
			results[side] = xs
			mu.Unlock()
		}()
	}
	wg.Wait()

	// If real Ollama could not generate, every diff would blame the
	// simulator for the environment's fault: stop here instead.
	for i, r := range corpus {
		if r.Name == "generate_nonstream_cold" && results["real"][i].Status != 200 {
			t.Fatalf("real Ollama failed the first generation: %v\nserver log:\n%s", results["real"][i], real.Output())
		}
	}

	known := knownDifferences(t)
	var failed []string
	for i, r := range corpus {
		t.Logf("%-32s real %7.1f ms   sim %7.1f ms", r.Name, ms(results["real"][i].Elapsed), ms(results["sim"][i].Elapsed))
		want, got := Render(results["real"][i]), Render(results["sim"][i])
		if !compare(t, known, r.Name, method(r)+" "+r.Path+" "+r.Body, want, got) {
			failed = append(failed, r.Name)
		}
	}
	if len(failed) > 0 {
		t.Logf("%d of %d exchanges differ: %s", len(failed), len(corpus), strings.Join(failed, ", "))
	}
}

func method(r Request) string {
	switch {
	case r.Method != "":
		return r.Method
	case r.Body != "":
		return "POST"
	}
	return "GET"
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

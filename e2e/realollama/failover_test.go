package realollama

import (
	"bytes"
	"fmt"
	"github.com/dsbridge/dsbridge/internal/testproc"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestKillOneUnderLoad: `kill -9` of one of two real Ollamas (serve and its
// runner, as a lost machine) while 4 clients send non-streamed generate
// requests back to back loses none of them: the bridge retries what was in
// flight on the dead one (nothing had reached the client yet) and stops
// sending it new work; /admin/upstreams shows it down.
func TestKillOneUnderLoad(t *testing.T) {
	const (
		clients  = 4
		duration = 8 * time.Second
		killAt   = 3 * time.Second
	)
	f := startFleet(t)
	f.warm(t)

	body := []byte(`{"model":"tiny","prompt":"hello","stream":false,"options":{"num_predict":4}}`)
	hc := &http.Client{Timeout: 30 * time.Second}
	type result struct {
		at     time.Duration // since the load started, when the answer came
		status int
		err    error
	}
	var (
		mu      sync.Mutex
		results []result
		wg      sync.WaitGroup
	)
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for time.Since(start) < duration {
				r := result{}
				resp, err := hc.Post(f.bridge.URL+"/api/generate", "application/json", bytes.NewReader(body))
				if err == nil {
					b, rerr := io.ReadAll(resp.Body)
					resp.Body.Close()
					r.status = resp.StatusCode
					if rerr != nil {
						err = rerr
					} else if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("%s", bytes.TrimSpace(b))
					}
				}
				r.at, r.err = time.Since(start), err
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
			}
		})
	}

	// Kill an Ollama that has requests in flight, so that the test shows
	// in-flight requests retried, not only new ones steered away.
	time.Sleep(killAt)
	victim := -1
	testproc.Eventually(t, 2*time.Second, "a request in flight on an upstream", func() bool {
		for i, u := range adminUpstreams(t, f.bridge.URL).Upstreams {
			if u.InFlight > 0 {
				victim = i
				return true
			}
		}
		return false
	})
	killedAt := time.Since(start)
	if err := f.ollamas[victim].Kill(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	var before, after, failed int
	for _, r := range results {
		if r.at < killedAt {
			before++
		} else {
			after++
		}
		if r.status != http.StatusOK || r.err != nil {
			failed++
			if failed <= 5 {
				t.Errorf("request answered at %v: status %d, %v", r.at.Round(time.Millisecond), r.status, r.err)
			}
		}
	}
	t.Logf("%d requests (%d before the kill at %v, %d after), %d failed; bridge retries %v, failovers %v",
		len(results), before, killedAt.Round(time.Millisecond), after, failed,
		metric(t, f.bridge.URL, "bridge_retries_total"), metric(t, f.bridge.URL, "bridge_failovers_total"))
	if failed > 0 {
		t.Errorf("%d of %d non-streamed requests failed across kill -9 of one Ollama; want 0", failed, len(results))
	}
	if before == 0 || after == 0 {
		t.Errorf("load did not span the kill: %d requests before, %d after", before, after)
	}

	victimURL := f.ollamas[victim].URL
	testproc.Eventually(t, 10*time.Second, "/admin/upstreams shows the killed Ollama down", func() bool {
		for _, u := range adminUpstreams(t, f.bridge.URL).Upstreams {
			if u.URL == victimURL {
				return !u.Healthy && !u.Available
			}
		}
		return false
	})
}

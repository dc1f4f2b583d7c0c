package loadgen

import (
	"testing"
	"time"
)

// TestTimelinePlacement: a request counts as sent in the second it was due
// and as completed (and failed) in the second it ended.
func TestTimelinePlacement(t *testing.T) {
	start := time.Unix(1000, 0)
	var tl timeline
	tl.add(start, &Result{Intended: start.Add(500 * time.Millisecond), Done: start.Add(2500 * time.Millisecond), Latency: 2 * time.Second, OutputTokens: 5})
	tl.add(start, &Result{Intended: start.Add(1200 * time.Millisecond), Done: start.Add(1300 * time.Millisecond), Latency: 100 * time.Millisecond, Kind: KindHTTP5xx})
	secs := tl.seconds(func(d time.Duration) float64 { return d.Seconds() })
	if len(secs) != 3 {
		t.Fatalf("%d seconds", len(secs))
	}
	for i, want := range []Second{
		{T: 0, Sent: 1, P50: 2000, P99: 2000},
		{T: 1, Sent: 1, Completed: 1, Errors: 1, P50: 100, P99: 100},
		{T: 2, Completed: 1, OutputTokens: 5},
	} {
		got := secs[i]
		got.Latency = nil
		want.RateRequested = float64(i) + 0.5
		if got.P50 != 0 { // 2-digit histograms: within 1 %
			if r := got.P50 / want.P50; r < 0.99 || r > 1.01 {
				t.Errorf("second %d p50 %v, want ≈ %v", i, got.P50, want.P50)
			}
			got.P50, got.P99 = want.P50, want.P99
		}
		if got != want {
			t.Errorf("second %d: %+v, want %+v", i, got, want)
		}
	}
	// A result from far in the future cannot blow the timeline up.
	tl.add(start, &Result{Intended: start.Add(1000 * time.Hour), Done: start.Add(1000 * time.Hour)})
	if n := len(tl.secs); n > maxTimelineSeconds {
		t.Errorf("timeline grew to %d seconds", n)
	}
}

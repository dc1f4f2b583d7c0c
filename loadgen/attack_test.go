package loadgen

import (
	"context"
	"testing"
	"time"
)

// TestAttackerChannel: the vegeta-style API yields one Result per request,
// in no particular order, and its stats agree once the channel closes.
func TestAttackerChannel(t *testing.T) {
	srv := (&fakeOllama{Tokens: 2}).start(t)
	a, err := NewAttacker(context.Background(), Config{Target: srv.URL, Pacer: ConstantPacer(200), Duration: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	for r := range a.Attack(context.Background()) {
		if seen[r.Seq] || r.Failed() || r.OutputTokens != 2 || r.Sent.Before(r.Intended) {
			t.Errorf("result %+v (seen before: %v)", r, seen[r.Seq])
		}
		seen[r.Seq] = true
	}
	st := a.Stats()
	if len(seen) != 100 || st.Scheduled != 100 || st.Sent != 100 || st.Dropped != 0 || st.InFlight != 0 || st.Start.IsZero() {
		t.Errorf("%d results, stats %+v; want 100 sent, none in flight", len(seen), st)
	}
	// A second Attack does not start a second run.
	if _, open := <-a.Attack(context.Background()); open {
		t.Error("second Attack yielded a result")
	}
}

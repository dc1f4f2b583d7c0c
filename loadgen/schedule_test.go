package loadgen

import (
	"testing"
	"time"
)

func TestArrivalsBounded(t *testing.T) {
	// vegeta's zero ConstantPacer means "infinitely fast": the max bound
	// still ends the loop.
	n := 0
	for range Arrivals(ConstantPacer(0), time.Second, 1000) {
		n++
	}
	if n != 1000 {
		t.Errorf("%d arrivals, want the bound 1000", n)
	}
}

// TestArrivalsFixedInAdvance: the schedule depends on the pacer alone, so
// two walks give the same times (nothing a response does can move them).
func TestArrivalsFixedInAdvance(t *testing.T) {
	p := PoissonPacer{Mean: 500, Seed: 3}
	var a, b []time.Duration
	for off := range Arrivals(p, time.Second, 0) {
		a = append(a, off)
	}
	for off := range Arrivals(p, time.Second, 0) {
		b = append(b, off)
	}
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("%d and %d arrivals", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] || (i > 0 && a[i] < a[i-1]) {
			t.Fatalf("arrival %d: %v vs %v", i, a[i], b[i])
		}
	}
}

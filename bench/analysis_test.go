package bench

import (
	"math"
	"testing"
	"time"

	"github.com/dsbridge/dsbridge/scenarios"
)

func span(start, end float64) Span {
	return Span{time.Duration(start * float64(time.Second)), time.Duration(end * float64(time.Second))}
}

func TestFailoverTime(t *testing.T) {
	cases := []struct {
		name string
		bad  []Span
		want float64 // ms
	}{
		{"nothing hurt", nil, 0},
		// A request in flight when the fault struck at 10 s, held 3 s.
		{"hang holds one request", []Span{span(9.9, 12.9)}, 2900},
		// Errors for 1.5 s after a kill, then none.
		{"errors after a kill", []Span{span(10.1, 10.1), span(10.6, 10.6), span(11.5, 11.5)}, 1500},
		// A lone slow request 8 s later is noise, not the fault.
		{"later noise ignored", []Span{span(10.2, 10.4), span(18, 19)}, 400},
		// Before the fault: not its doing.
		{"earlier ignored", []Span{span(5, 6)}, 0},
		// Past the window (the next fault at 20 s): not this fault's.
		{"window end", []Span{span(10.5, 11), span(11.5, 12), span(20.5, 25)}, 2000},
	}
	for _, c := range cases {
		got := FailoverTime(c.bad, 10, 20)
		if math.Abs(got-c.want) > 1e-6 {
			t.Errorf("%s: got %.1f ms; want %.1f", c.name, got, c.want)
		}
	}
}

// ramp builds a timeline rising 10 req/s per second, whose P99 crosses 500 ms
// at breakAt.
func ramp(n, breakAt int) []TimelinePoint {
	var tl []TimelinePoint
	for s := range n {
		rate := float64(10 * (s + 1))
		p := TimelinePoint{WindowStats: WindowStats{Second: s, Count: int64(rate), P50Ms: 10, P99Ms: 50}, RateRequested: rate}
		if s >= breakAt {
			p.P99Ms = 900
		}
		tl = append(tl, p)
	}
	return tl
}

func TestFindKnee(t *testing.T) {
	slo := scenarios.SLO{P99Ms: 500, ErrorRate: 0.01}
	k, err := FindKnee(ramp(30, 20), slo)
	if err != nil {
		t.Fatal(err)
	}
	// The three seconds before 20 s ran at 180, 190, 200 req/s.
	if !k.Reached || k.AtS != 20 || k.QPS != 190 {
		t.Errorf("knee %+v; want reached at 20 s, 190 req/s", k)
	}
	// One noisy second does not make a knee.
	tl := ramp(30, 100)
	tl[10].P99Ms = 2000
	k, _ = FindKnee(tl, slo)
	if k.Reached {
		t.Errorf("a single bad second set the knee: %+v", k)
	}
	if k.QPS < 270 {
		t.Errorf("unbroken ramp: knee %.0f; want the top of the ramp as a lower bound", k.QPS)
	}
}

func TestMakePlan(t *testing.T) {
	r := &Results{Scenario: "ramp-to-knee", Timeline: ramp(30, 20), SLO: scenarios.SLO{P99Ms: 500, ErrorRate: 0.01},
		Topology:  TopologyInfo{Sims: 2, Bridges: 1},
		Upstreams: []UpstreamShare{{Name: "sim-1", Share: 0.6}, {Name: "sim-2", Share: 0.4}}}
	p, err := MakePlan(r, 1000, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Knee 190 req/s; the busiest sim carried 60 %: 114 req/s per sim.
	if math.Abs(p.PerSimQPS-114) > 1e-9 || p.PerBridgeQPS != 190 {
		t.Errorf("per sim %.2f, per bridge %.2f", p.PerSimQPS, p.PerBridgeQPS)
	}
	// ceil(1000/114) = 9, +1 spare; ceil(1000/190) = 6, +1.
	if p.SimsNeeded != 10 || p.BridgesNeeded != 7 {
		t.Errorf("needed %d sims, %d bridges; want 10, 7", p.SimsNeeded, p.BridgesNeeded)
	}
	// Little's law with a 10 ms mean: 50 slots → 5000 req/s → 1 + 1.
	if p.Rows[0].QPS != 5000 || p.Rows[0].Instances != 2 {
		t.Errorf("light row %+v", p.Rows[0])
	}
	// A real model's service time: 2 s per request, 200 slots: 100 req/s.
	p2, _ := MakePlan(r, 1000, 0, 2000)
	if p2.Rows[1].QPS != 100 || p2.Rows[1].Instances != 11 {
		t.Errorf("standard row with 2 s service time: %+v", p2.Rows[1])
	}
	// A stricter SLO re-runs the knee on the same timeline: at 40 ms
	// nothing meets it.
	if _, err := MakePlan(r, 1000, 40, 0); err == nil {
		t.Error("want an error when no load met the SLO")
	}
	if _, err := MakePlan(r, 0, 0, 0); err == nil {
		t.Error("want an error for a zero target")
	}
}

func TestNPlus1(t *testing.T) {
	cases := []struct {
		target, per float64
		want        int
	}{
		{3000, 1000, 4}, // exactly 3 needed, plus one spare
		{3001, 1000, 5},
		{10, 1000, 2},
		{10, 0, 0}, // unknown capacity
	}
	for _, c := range cases {
		if got := nPlus1(c.target, c.per); got != c.want {
			t.Errorf("nPlus1(%v, %v) = %d; want %d", c.target, c.per, got, c.want)
		}
	}
}

package bench

import (
	"math"
	"testing"
	"time"

	"github.com/dsbridge/dsbridge/loadgen"
	"github.com/dsbridge/dsbridge/scenarios"
)

func stage(d time.Duration, rate, target float64) scenarios.Stage {
	return scenarios.Stage{Duration: scenarios.Duration(d), Rate: rate, Target: target}
}

func TestPacerFor(t *testing.T) {
	// A spike: 50/s, a jump to 600/s, back to 50/s, split over 2 shards.
	l := scenarios.LoadSpec{Arrival: "constant", Stages: []scenarios.Stage{
		stage(10*time.Second, 50, 0), stage(10*time.Second, 600, 0), stage(10*time.Second, 50, 0)}}
	p, ok := pacerFor(l, 2, 1).(loadgen.StagePacer)
	if !ok {
		t.Fatalf("want a StagePacer, got %T", pacerFor(l, 2, 1))
	}
	cases := []struct {
		at   time.Duration
		want float64 // per shard
	}{
		{5 * time.Second, 25},   // first plateau, half of 50
		{15 * time.Second, 300}, // the spike, half of 600
		{25 * time.Second, 25},  // back down
	}
	for _, c := range cases {
		if got := p.Rate(c.at); math.Abs(got-c.want) > 0.01 {
			t.Errorf("rate at %v = %v; want %v", c.at, got, c.want)
		}
	}
	if p.Total() != 30*time.Second {
		t.Errorf("total %v; want 30s: the 1 ms jumps must not lengthen the run", p.Total())
	}
	// A ramp.
	r := pacerFor(scenarios.LoadSpec{Stages: []scenarios.Stage{stage(10*time.Second, 10, 110)}}, 1, 1)
	if got := r.Rate(5 * time.Second); math.Abs(got-60) > 0.01 {
		t.Errorf("ramp half-way: %v; want 60", got)
	}
	// One constant Poisson stage: loadgen's Poisson pacer, at the shard's share.
	pp, ok := pacerFor(scenarios.LoadSpec{Arrival: "poisson", Stages: []scenarios.Stage{stage(10*time.Second, 100, 0)}}, 4, 7).(loadgen.PoissonPacer)
	if !ok || pp.Mean != 25 || pp.Seed != 7 {
		t.Errorf("poisson pacer %+v (%v)", pp, ok)
	}
}

func TestLoadgenMix(t *testing.T) {
	f := false
	m, err := loadgenMix(LoadPlan{Load: scenarios.LoadSpec{Mix: []scenarios.Mix{
		{Endpoint: "/api/chat", Model: "tiny", Weight: 3, MaxTokens: 8},
		{Endpoint: "/api/generate", Stream: &f, Weight: 1, PromptTokens: 100},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Requests) != 2 || m.Requests[0].Weight != 3 || m.Requests[0].Model != "tiny" || *m.Requests[1].Stream {
		t.Errorf("mix %+v", m.Requests)
	}
	if m.Requests[0].MaxTokens.Value != 8 || m.Requests[1].PromptTokens.Value != 100 {
		t.Errorf("token counts %+v %+v", m.Requests[0].MaxTokens, m.Requests[1].PromptTokens)
	}
	if m, err := loadgenMix(LoadPlan{}); m != nil || err != nil {
		t.Errorf("no mix: want loadgen's default (nil), got %v %v", m, err)
	}
	// loadgen's own checks apply: an embedding endpoint cannot stream.
	tr := true
	if _, err := loadgenMix(LoadPlan{Load: scenarios.LoadSpec{Mix: []scenarios.Mix{{Endpoint: "/api/embed", Stream: &tr}}}}); err == nil {
		t.Error("want loadgen to refuse a streamed /api/embed")
	}
}

func TestSampleOf(t *testing.T) {
	start := time.Now()
	r := &loadgen.Result{Intended: start.Add(1500 * time.Millisecond), Latency: 40 * time.Millisecond, TTFT: 10 * time.Millisecond,
		ITL: []time.Duration{2 * time.Millisecond, 4 * time.Millisecond}, OutputTokens: 3, Status: 200, Kind: loadgen.KindStreamCut}
	s := sampleOf(r, start)
	if s.Intended != 1500*time.Millisecond || s.ITL != 3*time.Millisecond || s.Err != "stream_cut" || s.Tokens != 3 {
		t.Errorf("sample %+v", s)
	}
}

package bridge

import (
	"testing"
	"time"
)

// testPool builds upstreams from configs without starting health checks:
// selection tests drive state directly.
func testPool(t *testing.T, policy string, ups ...UpstreamConfig) *Pool {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Policy = policy
	cfg.Upstreams = ups
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return time.Unix(1000, 0) }
	p := newPool(&cfg, nil, nil, clock)
	for _, u := range p.all {
		u.m = nopMetrics()
	}
	return p
}

// withModels sets what an upstream is known to have.
func withModels(u *Upstream, onDisk []string, loaded []string) {
	ms := &modelSet{known: true, onDisk: map[string]struct{}{}, loaded: map[string]struct{}{}}
	for _, m := range onDisk {
		ms.onDisk[m] = struct{}{}
	}
	for _, m := range loaded {
		ms.loaded[m] = struct{}{}
		ms.onDisk[m] = struct{}{}
	}
	u.models.Store(ms)
}

func TestWeightedRoundRobinIsSmooth(t *testing.T) {
	p := testPool(t, "round_robin", UpstreamConfig{URL: "http://a:1", Weight: 5}, UpstreamConfig{URL: "http://b:1", Weight: 1},
		UpstreamConfig{URL: "http://c:1", Weight: 1})
	got := ""
	for i := 0; i < 7; i++ {
		got += p.pick(&request{}).name[7:8]
	}
	// nginx's smooth weighted round robin: interleaved, not aaaaabc.
	if got != "aabacaa" && got != "abacaaa" && got != "aacaaba" && got != "acaabaa" && got != "aabaaca" {
		counts := map[rune]int{}
		for _, c := range got {
			counts[c]++
		}
		if counts['a'] != 5 || counts['b'] != 1 || counts['c'] != 1 || got[:5] == "aaaaa" {
			t.Errorf("schedule %q; want 5:1:1 interleaved", got)
		}
	}
}

func TestSelectionPolicies(t *testing.T) {
	a, b, c := UpstreamConfig{URL: "http://a:1"}, UpstreamConfig{URL: "http://b:1"}, UpstreamConfig{URL: "http://c:1", Backup: true}
	tests := []struct {
		name   string
		policy string
		setup  func(p *Pool)
		model  string
		want   string // upstream host picked ("" for none)
	}{
		// Loaded beats on disk, whatever the load.
		{"loaded wins", "model-aware", func(p *Pool) {
			withModels(p.all[0], []string{"m:latest"}, nil)
			withModels(p.all[1], nil, []string{"m:latest"})
			p.all[1].inFlight.Store(10)
		}, "m:latest", "b"},
		// Same tier: the least loaded.
		{"least loaded in tier", "model-aware", func(p *Pool) {
			withModels(p.all[0], nil, []string{"m:latest"})
			withModels(p.all[1], nil, []string{"m:latest"})
			p.all[0].inFlight.Store(3)
		}, "m:latest", "b"},
		// An instance known not to have the model is never picked.
		{"lacking skipped", "model-aware", func(p *Pool) {
			withModels(p.all[0], []string{"x:latest"}, nil)
			withModels(p.all[1], []string{"m:latest"}, nil)
			p.all[1].inFlight.Store(50)
		}, "m:latest", "b"},
		// Primaries out (health check): the backup serves.
		{"backup when primaries down", "model-aware", func(p *Pool) {
			p.all[0].healthy.Store(false)
			p.all[1].healthy.Store(false)
		}, "", "c"},
		// Passive check took one out: the other primary, not the backup.
		{"passive out", "round_robin", func(p *Pool) {
			p.all[0].downUntil.Store(time.Unix(2000, 0).UnixNano())
		}, "", "b"},
		// Full (max_in_flight reached) counts as unavailable.
		{"full", "least_outstanding", func(p *Pool) {
			p.all[0].cfg.MaxInFlight = 1
			p.all[0].inFlight.Store(1)
		}, "", "b"},
		// Nobody available, not even the backup: nil.
		{"none", "model-aware", func(p *Pool) {
			for _, u := range p.all {
				u.healthy.Store(false)
			}
		}, "", ""},
	}
	for _, tt := range tests {
		p := testPool(t, tt.policy, a, b, c)
		tt.setup(p)
		u := p.pick(&request{model: tt.model})
		got := ""
		if u != nil {
			got = u.name[7:8]
		}
		if got != tt.want {
			t.Errorf("%s: picked %q; want %q", tt.name, got, tt.want)
		}
	}
}

// Affinity keeps a session on one instance, and tried instances are skipped.
func TestAffinityAndTried(t *testing.T) {
	p := testPool(t, "model-aware", UpstreamConfig{URL: "http://a:1"}, UpstreamConfig{URL: "http://b:1"}, UpstreamConfig{URL: "http://c:1"})
	r := &request{hasAffinity: true, affinity: fnv64a([]byte("session-42"))}
	first := p.pick(r)
	for i := 0; i < 20; i++ {
		if u := p.pick(&request{hasAffinity: true, affinity: r.affinity}); u != first {
			t.Fatalf("affinity moved from %s to %s", first.name, u.name)
		}
	}
	r.markTried(first)
	if u := p.pick(r); u == first || u == nil {
		t.Fatalf("retry picked %v; want another instance", u)
	}
}

// The least-outstanding policy spreads by load.
func TestLeastOutstandingPrefersIdle(t *testing.T) {
	p := testPool(t, "least_outstanding", UpstreamConfig{URL: "http://a:1"}, UpstreamConfig{URL: "http://b:1"})
	p.all[0].inFlight.Store(100)
	for i := 0; i < 20; i++ {
		if u := p.pick(&request{}); u.name != "http://b:1" {
			t.Fatalf("picked busy %s", u.name)
		}
	}
}

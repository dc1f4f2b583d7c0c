package bridge

import (
	"testing"
	"time"
)

// pickFallback's order: not full, alive by the active check, has the model,
// then least recently failed.
func TestPickFallbackOrder(t *testing.T) {
	ups := []UpstreamConfig{{URL: "http://a:1", Weight: 1}, {URL: "http://b:1", Weight: 1}, {URL: "http://c:1", Weight: 1}}
	out := time.Unix(2000, 0).UnixNano() // passive-out until then: none is available
	tests := []struct {
		name  string
		model string
		setup func(p *Pool)
		want  string // "" for nil
	}{
		{"least recently failed", "", func(p *Pool) {
			p.all[0].lastFail.Store(300)
			p.all[1].lastFail.Store(100)
			p.all[2].lastFail.Store(200)
		}, "http://b:1"},
		{"alive before dead", "", func(p *Pool) {
			p.all[1].healthy.Store(false)
			p.all[0].lastFail.Store(300)
			p.all[2].lastFail.Store(200)
		}, "http://c:1"},
		{"model before no model", "m:latest", func(p *Pool) {
			withModels(p.all[0], []string{"m:latest"}, nil)
			withModels(p.all[1], []string{"x:latest"}, nil)
			withModels(p.all[2], []string{"x:latest"}, nil)
			p.all[0].lastFail.Store(300)
		}, "http://a:1"},
		{"full skipped", "", func(p *Pool) {
			p.all[1].cfg.MaxInFlight = 1
			p.all[1].inFlight.Store(1)
			p.all[0].lastFail.Store(300)
			p.all[2].lastFail.Store(200)
		}, "http://c:1"},
		{"all full: nil", "", func(p *Pool) {
			for _, u := range p.all {
				u.cfg.MaxInFlight = 1
				u.inFlight.Store(1)
			}
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPool(t, "model-aware", ups...)
			for _, u := range p.all {
				u.downUntil.Store(out)
			}
			tt.setup(p)
			r := &request{model: tt.model}
			if u := p.pick(r); u != nil {
				t.Fatalf("pick found %s; the test wants nobody available", u.name)
			}
			got := ""
			if u := p.pickFallback(r); u != nil {
				got = u.name
			}
			if got != tt.want {
				t.Errorf("pickFallback = %q; want %q", got, tt.want)
			}
		})
	}
}

// forgive puts an instance back at once: passive count cleared, breaker
// replaced by a closed one.
func TestForgive(t *testing.T) {
	p := testPool(t, "model-aware", UpstreamConfig{URL: "http://a:1", Weight: 1})
	u := p.all[0]
	now := time.Unix(1000, 0).UnixNano()
	var late func(error)
	for i := 0; i < 5; i++ {
		done, ok := u.brk.Load().allow()
		if !ok {
			t.Fatal("breaker refused before opening")
		}
		if i == 4 {
			late = done
			continue
		}
		done(errAttemptFailed)
		u.recordFailure(now, reasonOther)
	}
	late(errAttemptFailed) // the fifth failure opens it
	if u.Available(now) {
		t.Fatal("available with breaker open and passive out")
	}
	u.forgive()
	if !u.Available(now) {
		t.Fatalf("not available after forgive: %+v", u.status(now))
	}
	if u.brk.Load().state().String() != "closed" {
		t.Errorf("breaker %s after forgive", u.brk.Load().state())
	}
}

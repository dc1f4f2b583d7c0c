package bridge

import (
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// nopCounter stands in for metric children in unit tests.
type nopCounter struct{ prometheus.Counter }

func (nopCounter) Inc() {}

// Passive checks have nginx's semantics: max_fails failures within
// fail_timeout take the upstream out for fail_timeout. Time is injected.
func TestPassiveChecks(t *testing.T) {
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	cfg := DefaultConfig() // max_fails=2 fail_timeout=30s
	cfg.Upstreams = []UpstreamConfig{{URL: "http://a:1"}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	u := newUpstream(cfg.Upstreams[0], &cfg, clock)
	u.m = nopMetrics()
	steps := []struct {
		advance   time.Duration
		fail      bool
		available bool
	}{
		{0, true, true},                  // one failure: still in
		{31 * time.Second, true, true},   // the window expired: this is the first of a new window
		{10 * time.Second, true, false},  // second within 30 s: out
		{29 * time.Second, false, false}, // still out just before fail_timeout
		{2 * time.Second, false, true},   // back after fail_timeout
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		if s.fail {
			u.recordFailure(now.UnixNano(), reasonOther)
		}
		if got := u.Available(now.UnixNano()); got != s.available {
			t.Errorf("step %d: available %v; want %v", i, got, s.available)
		}
	}
}

// The breaker opens after 5 consecutive failures and refuses attempts;
// a success in between resets the count.
func TestBreakerOpensAfterConsecutiveFailures(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Passive.MaxFails = 0 // isolate the breaker
	cfg.Upstreams = []UpstreamConfig{{URL: "http://a:1"}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	u := newUpstream(cfg.Upstreams[0], &cfg, time.Now)
	fail := func(n int) {
		for i := 0; i < n; i++ {
			done, ok := u.brk.Load().allow()
			if !ok {
				t.Fatalf("breaker refused attempt %d early", i)
			}
			done(errAttemptFailed)
		}
	}
	fail(4)
	done, _ := u.brk.Load().allow()
	done(nil) // resets the consecutive count
	fail(4)
	if !u.Available(time.Now().UnixNano()) {
		t.Fatal("breaker open after 4 consecutive failures")
	}
	fail(1)
	if u.Available(time.Now().UnixNano()) {
		t.Fatal("breaker still closed after 5 consecutive failures")
	}
	if _, ok := u.brk.Load().allow(); ok {
		t.Fatal("open breaker allowed an attempt")
	}
	if got := stateValue(u.brk.Load().state()); got != 2 {
		t.Errorf("circuit state metric %v; want 2 (open)", got)
	}
}

// markDead cuts loose the attempts waiting on the upstream.
func TestMarkDeadCancelsWaiters(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Upstreams = []UpstreamConfig{{URL: "http://a:1"}}
	_ = cfg.Validate()
	u := newUpstream(cfg.Upstreams[0], &cfg, time.Now)
	// A real connection waiting for an answer: markDead must wake its read.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waiter := u.dead.Load()
	waiter.watch(c)
	read := make(chan error, 1)
	go func() { _, err := c.Read(make([]byte, 1)); read <- err }()
	u.markDead()
	select {
	case err := <-read:
		if !isTimeout(err) {
			t.Fatalf("waiting read ended with %v, want a deadline", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiter not cut")
	}
	if waiter.unwatch(c) || waiter.err() == nil {
		t.Fatal("the old signal does not say it was killed")
	}
	if u.dead.Load().err() != nil {
		t.Fatal("new attempts inherit a dead signal")
	}
	if u.Available(time.Now().UnixNano()) {
		t.Fatal("dead upstream available")
	}
}

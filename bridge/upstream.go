package bridge

import (
	"context"
	"errors"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"
)

// Upstream is one Ollama instance and everything the bridge knows about it.
// Its mutable state is atomics only: the hot path (selection, forwarding)
// reads and updates it from every request goroutine without locks.
type Upstream struct {
	cfg    UpstreamConfig
	name   string // the normalised URL, also the metrics label
	target url.URL

	inFlight atomic.Int64
	healthy  atomic.Bool // active health check verdict

	// Passive checks (nginx's max_fails/fail_timeout), in clock nanoseconds.
	failStart atomic.Int64
	fails     atomic.Int64
	downUntil atomic.Int64

	hashSeed  uint64 // per-instance salt for affinity hashing
	brk       *breaker
	brkState  atomic.Int32 // mirror of the breaker's state, set on change
	brkOpened atomic.Int64 // clock ns when it last opened

	models atomic.Pointer[modelSet]

	// dead is cancelled when the health check declares the instance dead:
	// attempts in flight that have written nothing to their client watch it
	// (context.AfterFunc) and are re-sent elsewhere.
	dead atomic.Pointer[deadSignal]

	conns *connPool

	passive PassiveConfig
	openFor time.Duration
	clock   func() time.Time
	m       upstreamMetrics
}

type deadSignal struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
}

// errUpstreamDead is the cause of attempts cut because health checks failed.
var errUpstreamDead = errors.New("upstream declared dead by health checks")

// upstreamMetrics are the instance's pre-resolved metric children, so the hot
// path never hashes label values.
type upstreamMetrics struct {
	success, failure, clientError, canceled prometheus.Counter
}

func newUpstream(cfg UpstreamConfig, c *Config, clock func() time.Time) *Upstream {
	t, _ := url.Parse(cfg.URL) // Validate checked it
	u := &Upstream{cfg: cfg, name: cfg.URL, target: *t, passive: c.Passive, openFor: c.Breaker.OpenFor, clock: clock,
		hashSeed: fnv64a([]byte(cfg.URL))}
	u.brk = newBreaker(cfg.URL, c.Breaker, func(s gobreaker.State) {
		u.brkState.Store(int32(s))
		if s == gobreaker.StateOpen {
			u.brkOpened.Store(clock().UnixNano())
		}
	})
	u.conns = newConnPool(t.Host, c.Timeouts.Dial)
	ctx, cancel := context.WithCancelCause(context.Background())
	u.dead.Store(&deadSignal{ctx, cancel})
	u.healthy.Store(true)
	return u
}

// Available is the one predicate every selection policy asks: healthy by the
// active check, not out by the passive one, breaker not open, not full.
func (u *Upstream) Available(now int64) bool {
	if !u.healthy.Load() || now < u.downUntil.Load() {
		return false
	}
	if gobreaker.State(u.brkState.Load()) == gobreaker.StateOpen {
		// gobreaker moves open → half-open lazily; ask it once the open
		// period is over, otherwise trust the mirror.
		if now < u.brkOpened.Load()+int64(u.openFor) || u.brk.open() {
			return false
		}
	}
	if m := int64(u.cfg.MaxInFlight); m > 0 && u.inFlight.Load() >= m {
		return false
	}
	return true
}

// recordFailure counts a failed attempt: passive check (nginx semantics:
// MaxFails within FailTimeout → out for FailTimeout) and metrics. The breaker
// is told through its own done func.
func (u *Upstream) recordFailure(now int64) {
	u.m.failure.Inc()
	if u.passive.MaxFails == 0 {
		return
	}
	ft := int64(u.passive.FailTimeout)
	if start := u.failStart.Load(); now-start > ft {
		// A new window. Two racing goroutines may both reset: harmless, the
		// bound is approximate by one failure at worst.
		u.failStart.Store(now)
		u.fails.Store(0)
	}
	if u.fails.Add(1) >= int64(u.passive.MaxFails) {
		u.downUntil.Store(now + ft)
		u.fails.Store(0)
	}
}

// markDead is called by the health checker when the instance stops
// answering: it leaves rotation and its waiting attempts are cut loose.
func (u *Upstream) markDead() {
	if !u.healthy.Swap(false) {
		return
	}
	old := u.dead.Load()
	ctx, cancel := context.WithCancelCause(context.Background())
	u.dead.Store(&deadSignal{ctx, cancel})
	old.cancel(errUpstreamDead)
	u.conns.closeIdle() // they lead to a process that stopped answering
}

func (u *Upstream) markAlive() { u.healthy.Store(true) }

// Status is what GET /admin/upstreams shows for one instance.
type Status struct {
	URL         string   `json:"url"`
	Weight      int      `json:"weight"`
	Backup      bool     `json:"backup"`
	MaxInFlight int      `json:"max_in_flight"`
	Healthy     bool     `json:"healthy"`
	Available   bool     `json:"available"`
	PassiveOut  bool     `json:"passive_out"`
	Breaker     string   `json:"breaker"`
	InFlight    int64    `json:"in_flight"`
	Models      []string `json:"models"`
	Loaded      []string `json:"loaded"`
}

func (u *Upstream) status(now int64) Status {
	s := Status{URL: u.name, Weight: u.cfg.Weight, Backup: u.cfg.Backup, MaxInFlight: u.cfg.MaxInFlight,
		Healthy: u.healthy.Load(), Available: u.Available(now), PassiveOut: now < u.downUntil.Load(),
		Breaker: u.brk.state().String(), InFlight: u.inFlight.Load(), Models: []string{}, Loaded: []string{}}
	if m := u.models.Load(); m != nil {
		for k := range m.onDisk {
			s.Models = append(s.Models, k)
		}
		for k := range m.loaded {
			s.Loaded = append(s.Loaded, k)
		}
	}
	return s
}

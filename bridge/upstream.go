package bridge

import (
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

	hashSeed uint64 // per-instance salt for affinity hashing
	// brk is swapped whole by forgive: gobreaker has no reset, and a fresh
	// closed breaker is what "it works again" means.
	brk       atomic.Pointer[breaker]
	brkCfg    BreakerConfig
	brkState  atomic.Int32 // mirror of the current breaker's state, set on change
	brkOpened atomic.Int64 // clock ns when it last opened
	// lastFail is when an attempt on u last failed or the checker declared
	// it dead (clock ns): the all-down fallback tries the least recent.
	lastFail atomic.Int64

	models atomic.Pointer[modelSet]

	// dead is killed when the health check declares the instance dead:
	// attempts in flight that have written nothing to their client watch it
	// (deadsignal.go) and are re-sent elsewhere.
	dead atomic.Pointer[deadSignal]

	conns *connPool

	passive PassiveConfig
	openFor time.Duration
	clock   func() time.Time
	m       upstreamMetrics
}

// errUpstreamDead is the cause of attempts cut because health checks failed.
var errUpstreamDead = errors.New("upstream declared dead by health checks")

// upstreamMetrics are the instance's pre-resolved metric children, so the hot
// path never hashes label values.
type upstreamMetrics struct {
	success, failure, clientError, canceled prometheus.Counter
	// failures holds bridge_upstream_failures_total's children by reason.
	failures [numFailureReasons]prometheus.Counter
}

// failureReason says why an attempt counted against its upstream; it is a
// bounded label of bridge_upstream_failures_total.
type failureReason int

const (
	reasonConnect failureReason = iota // could not connect
	reasonTimeout                      // no first byte in time
	reasonDead                         // declared dead by the health checks while waiting
	reasonStatus                       // answered 5xx (503 queue full included)
	reasonStream                       // failed after the first byte: error line or cut
	reasonOther                        // any other error before the first byte
	numFailureReasons
)

var failureReasonNames = [numFailureReasons]string{"connect", "timeout", "dead", "status_5xx", "stream", "other"}

func newUpstream(cfg UpstreamConfig, c *Config, clock func() time.Time) *Upstream {
	t, _ := url.Parse(cfg.URL) // Validate checked it
	u := &Upstream{cfg: cfg, name: cfg.URL, target: *t, passive: c.Passive, openFor: c.Breaker.OpenFor, clock: clock,
		hashSeed: fnv64a([]byte(cfg.URL)), brkCfg: c.Breaker}
	u.resetBreaker()
	u.conns = newConnPool(t.Host, c.Timeouts.Dial)
	u.dead.Store(newDeadSignal())
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
		if now < u.brkOpened.Load()+int64(u.openFor) || u.brk.Load().open() {
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
func (u *Upstream) recordFailure(now int64, why failureReason) {
	u.m.failure.Inc()
	u.m.failures[why].Inc()
	u.lastFail.Store(now)
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
	u.lastFail.Store(u.clock().UnixNano())
	old := u.dead.Load()
	u.dead.Store(newDeadSignal())
	old.kill()
	u.conns.closeIdle() // they lead to a process that stopped answering
}

// markAlive is called by the health checker when the instance answers
// again. Coming back from dead, it is also forgiven: the attempts that failed
// while it was down (or that the checker itself cut) say nothing about it
// now, and without this the passive check and the breaker would keep a
// recovered instance out for fail_timeout / open_for (30 s by default) after
// every stall.
func (u *Upstream) markAlive() {
	if !u.healthy.Swap(true) {
		u.forgive()
	}
}

// forgive clears what the passive check and the breaker hold against u, on
// direct evidence that it works: it came back from dead, or a fallback
// attempt on it succeeded.
func (u *Upstream) forgive() {
	u.downUntil.Store(0)
	u.fails.Store(0)
	if gobreaker.State(u.brkState.Load()) != gobreaker.StateClosed {
		u.resetBreaker()
	}
}

// resetBreaker installs a fresh, closed breaker. A late done of the old one
// (an attempt that began before the reset) still updates the old breaker's
// counts, but no longer the mirror the hot path reads.
func (u *Upstream) resetBreaker() {
	var b *breaker
	b = newBreaker(u.name, u.brkCfg, func(s gobreaker.State) {
		if u.brk.Load() != b {
			return
		}
		u.brkState.Store(int32(s))
		if s == gobreaker.StateOpen {
			u.brkOpened.Store(u.clock().UnixNano())
		}
	})
	u.brk.Store(b)
	u.brkState.Store(int32(gobreaker.StateClosed))
}

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
		Breaker: u.brk.Load().state().String(), InFlight: u.inFlight.Load(), Models: []string{}, Loaded: []string{}}
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

package bridge

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Pool is one generation of the upstream set: built from a config, replaced
// whole on reload. An Upstream whose URL survives a reload is carried over
// with its state (in-flight count, breaker, models), so a reload drops
// nothing and forgets nothing.
type Pool struct {
	all       []*Upstream
	primaries []*Upstream
	backups   []*Upstream
	sel       Selector
	backupSel Selector
	health    HealthConfig
	client    *http.Client // for health checks and model polls
	clock     func() time.Time

	refreshMu   sync.Mutex
	lastRefresh atomic.Int64 // clock ns of the last on-miss model refresh

	fallbackNext atomic.Uint32 // rotating start for pickFallback's ties

	stop context.CancelFunc
	wg   sync.WaitGroup
}

// newPool builds the set, reusing instances of prev by URL.
func newPool(cfg *Config, prev *Pool, client *http.Client, clock func() time.Time) *Pool {
	old := map[string]*Upstream{}
	if prev != nil {
		for _, u := range prev.all {
			old[u.name] = u
		}
	}
	p := &Pool{health: cfg.Health, client: client, clock: clock}
	for _, uc := range cfg.Upstreams {
		u, ok := old[uc.URL]
		if !ok || u.cfg != uc || u.passive != cfg.Passive || u.brkCfg != cfg.Breaker {
			if ok {
				// Settings changed: keep what was learned about models.
				nu := newUpstream(uc, cfg, clock)
				nu.models.Store(u.models.Load())
				nu.healthy.Store(u.healthy.Load())
				u = nu
			} else {
				u = newUpstream(uc, cfg, clock)
			}
		}
		p.all = append(p.all, u)
		if uc.Backup {
			p.backups = append(p.backups, u)
		} else {
			p.primaries = append(p.primaries, u)
		}
	}
	p.sel = newSelector(cfg, p.primaries)
	p.backupSel = newSelector(cfg, p.backups)
	return p
}

// pick chooses an upstream for r: primaries first, backups only when no
// primary can take it. nil means nobody can.
func (p *Pool) pick(r *request) *Upstream {
	now := p.clock().UnixNano()
	if u := p.sel.Select(p.primaries, r, now); u != nil {
		return u
	}
	if len(p.backups) == 0 {
		return nil
	}
	return p.backupSel.Select(p.backups, r, now)
}

// fleetTier is the best tier any instance has for model, available or not:
// -1 means the fleet is known not to have it.
func (p *Pool) fleetTier(model string) int {
	best := -1
	for _, u := range p.all {
		if t := u.models.Load().tier(model); t > best {
			best = t
		}
	}
	return best
}

// ready is true when some upstream can serve.
// healthyUpstreams is every instance the health checks pass, for calls
// that fan out (management, blobs).
func (p *Pool) healthyUpstreams() []*Upstream {
	var us []*Upstream
	for _, u := range p.all {
		if u.healthy.Load() {
			us = append(us, u)
		}
	}
	return us
}

func (p *Pool) ready() bool {
	now := p.clock().UnixNano()
	for _, u := range p.all {
		if u.Available(now) {
			return true
		}
	}
	return false
}

// refreshOnMiss polls every instance's models when a request names a model
// nobody is known to have (it may just have been pulled). Concurrent misses
// share one poll, and polls happen at most every 250 ms so that a stream of
// requests for a bogus model cannot hammer the fleet.
func (p *Pool) refreshOnMiss(ctx context.Context, since int64) {
	p.refreshMu.Lock()
	defer p.refreshMu.Unlock()
	last := p.lastRefresh.Load()
	if last > since || p.clock().UnixNano()-last < int64(250*time.Millisecond) {
		return
	}
	p.checkAll(ctx, true)
	p.lastRefresh.Store(p.clock().UnixNano())
}

// start runs the health checkers; stopHealth ends them and waits.
func (p *Pool) start(parent context.Context) {
	ctx, cancel := context.WithCancel(parent)
	p.stop = cancel
	for _, u := range p.all {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.runHealth(ctx, u)
		}()
	}
}

func (p *Pool) stopHealth() {
	if p.stop != nil {
		p.stop()
		p.wg.Wait()
	}
}

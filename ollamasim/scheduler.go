package ollamasim

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// ErrMaxQueue is Ollama's queue-full error, two spaces and all
// (server/sched.go ErrMaxQueue).
var ErrMaxQueue = errors.New("server busy, please try again.  maximum pending requests exceeded")

// forever is how Ollama stores a negative keep_alive (api.Duration).
const forever = time.Duration(math.MaxInt64)

// scheduler models Ollama's server/sched.go as seen from outside:
//
//	request ─▶ model loaded? ──yes──▶ runner (no bound) ─▶ wait for one of NUM_PARALLEL slots
//	             │no
//	             ▼
//	          pending queue (bounded: MAX_QUEUE, plus the one being scheduled) ─▶ 503 when full
//	             │
//	             ▼
//	          evict idle models over MAX_LOADED_MODELS, load (load_time) ─▶ runner
//
// The bound applies only while a model is being scheduled, as in Ollama
// v0.17.4 (ollama#7758); StrictQueue also bounds the wait for a slot.
type scheduler struct {
	cfg     *Config
	now     func() time.Time
	loadFor func(model string) time.Duration // includes slow_load faults
	ctxLen  func(model string) int           // default context length

	mu      sync.Mutex
	runners map[string]*runner
	order   []string      // runners in the order models were added
	pending int           // requests waiting for a model to be scheduled
	changed chan struct{} // closed and replaced when a runner goes idle or unloads
}

// runner is one model's state.
type runner struct {
	name     string
	parallel int
	slots    chan struct{} // a token per busy slot
	// stall is the total prompt-evaluation time started on this model. A
	// runner evaluates a new prompt in the same batches as the other
	// streams' next tokens, so they stall for about that long: each stream
	// adds the growth of stall since its last token to its next interval.
	stall atomic.Int64

	// guarded by scheduler.mu
	state       runnerState
	ready       chan struct{} // closed when loading ends
	refCount    int
	session     time.Duration
	timer       *time.Timer
	gen         uint64 // bumps on every load/unload, to drop stale timers
	expiresAt   time.Time
	pendingLoad int // requests waiting for this model's load
	waiting     int // requests waiting for a slot
	busy        int
	loads       int
	numCtx      int // context length it was loaded with
}

type runnerState int

const (
	unloaded runnerState = iota
	loading
	loaded
)

func newScheduler(cfg *Config, now func() time.Time, loadFor func(string) time.Duration, ctxLen func(string) int) *scheduler {
	s := &scheduler{cfg: cfg, now: now, loadFor: loadFor, ctxLen: ctxLen, runners: map[string]*runner{}, changed: make(chan struct{})}
	for _, m := range cfg.Models {
		s.addLocked(m)
	}
	return s
}

// add gives a model created while the simulator runs (/api/copy) a runner;
// a model it already has keeps its own.
func (s *scheduler) add(model string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addLocked(model)
}

func (s *scheduler) addLocked(m string) {
	if _, ok := s.runners[m]; ok {
		return
	}
	s.runners[m] = &runner{name: m, parallel: s.cfg.Parallel, slots: make(chan struct{}, s.cfg.Parallel)}
	s.order = append(s.order, m)
}

// lease is a request's hold on a loaded model.
type lease struct {
	s        *scheduler
	r        *runner
	slotHeld bool
}

// acquire gets model's runner, loading it if needed. keepAlive nil means
// the default; numCtx 0 means whatever the model runs with. It returns
// ErrMaxQueue when the pending queue is full. A loaded model asked for
// another context length is reloaded once its requests finish, as Ollama's
// needsReload does (a costly cold load that clients mixing num_ctx cause).
func (s *scheduler) acquire(ctx context.Context, model string, keepAlive *time.Duration, numCtx int) (*lease, error) {
	s.mu.Lock()
	r := s.runners[model]
	if r.state == loaded && r.fits(numCtx) {
		s.useLocked(r, keepAlive)
		s.mu.Unlock()
		return &lease{s: s, r: r}, nil
	}
	// Ollama's pending channel holds MAX_QUEUE requests; its scheduler
	// loop holds one more while it loads a model.
	if s.pending >= s.cfg.MaxQueue+1 {
		s.mu.Unlock()
		return nil, ErrMaxQueue
	}
	s.pending++
	r.pendingLoad++
	defer func() {
		s.pending--
		r.pendingLoad--
		// Everyone who waited for this load gave up: start its keep-alive
		// clock so it does not stay loaded forever.
		if r.state == loaded && r.refCount == 0 && r.pendingLoad == 0 && r.timer == nil && r.session != forever {
			s.idleLocked(r)
		}
		s.mu.Unlock()
	}()
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		switch {
		case r.state == loaded && r.fits(numCtx):
			s.useLocked(r, keepAlive)
			return &lease{s: s, r: r}, nil
		case r.state == loaded: // needs a reload: unload once idle
			r.session = 0
			if r.refCount == 0 {
				s.unloadLocked(r)
				continue
			}
			if err := s.waitLocked(ctx, s.changed); err != nil {
				return nil, err
			}
		case r.state == loading:
			if err := s.waitLocked(ctx, r.ready); err != nil {
				return nil, err
			}
		default:
			if err := s.makeRoomLocked(ctx, r, numCtx); err != nil {
				return nil, err
			}
		}
	}
}

// waitLocked releases s.mu until ch closes or ctx ends, then retakes it.
func (s *scheduler) waitLocked(ctx context.Context, ch <-chan struct{}) error {
	s.mu.Unlock()
	defer s.mu.Lock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fits reports whether a loaded runner serves a request for numCtx.
func (r *runner) fits(numCtx int) bool { return numCtx <= 0 || numCtx == r.numCtx }

// makeRoomLocked starts r's load if there is room, evicting an idle model
// over MaxLoadedModels, or waits for a model to go idle. It is called and
// returns with s.mu held.
func (s *scheduler) makeRoomLocked(ctx context.Context, r *runner, numCtx int) error {
	n := 0
	for _, o := range s.runners {
		if o.state != unloaded {
			n++
		}
	}
	if n < s.cfg.MaxLoadedModels {
		s.startLoadLocked(r, numCtx)
		return nil
	}
	var victim *runner
	for _, o := range s.runners {
		if o.state == loaded && o.refCount == 0 && (victim == nil || o.expiresAt.Before(victim.expiresAt)) {
			victim = o
		}
	}
	if victim != nil {
		s.unloadLocked(victim)
		return nil
	}
	return s.waitLocked(ctx, s.changed)
}

func (s *scheduler) startLoadLocked(r *runner, numCtx int) {
	if numCtx <= 0 {
		numCtx = s.ctxLen(r.name)
	}
	r.numCtx = numCtx
	r.state = loading
	r.ready = make(chan struct{})
	r.gen++
	r.loads++
	r.session = *s.cfg.KeepAlive
	gen, ready := r.gen, r.ready
	d := s.loadFor(r.name)
	finish := func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if r.gen == gen && r.state == loading {
			r.state = loaded
			close(ready)
			// If nobody waits for it (all gave up), start its keep-alive clock.
			if r.refCount == 0 && r.pendingLoad == 0 {
				s.idleLocked(r)
			}
		}
	}
	if d <= 0 {
		r.state = loaded
		close(ready)
		return
	}
	time.AfterFunc(d, finish)
}

func (s *scheduler) useLocked(r *runner, keepAlive *time.Duration) {
	r.refCount++
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	r.expiresAt = time.Time{}
	if keepAlive != nil {
		r.session = *keepAlive
	}
}

// idleLocked starts r's keep-alive clock (or unloads it at once).
func (s *scheduler) idleLocked(r *runner) {
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	switch {
	case r.session <= 0:
		s.unloadLocked(r)
		return
	case r.session == forever || r.session < 0:
		r.expiresAt = time.Time{}
	default:
		r.expiresAt = s.now().Add(r.session)
		gen := r.gen
		r.timer = time.AfterFunc(r.session, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if r.gen == gen && r.refCount == 0 && r.state == loaded {
				s.unloadLocked(r)
			}
		})
	}
	s.broadcastLocked()
}

func (s *scheduler) unloadLocked(r *runner) {
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	if r.state == loading {
		close(r.ready) // waiters see state != loaded
	}
	r.state = unloaded
	r.gen++
	r.expiresAt = time.Time{}
	s.broadcastLocked()
}

func (s *scheduler) broadcastLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// expire is the keep_alive:0 load-less request: unload now if idle, else
// once its requests finish (Ollama's expireRunner).
func (s *scheduler) expire(model string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.runners[model]
	if r.state == unloaded {
		return
	}
	r.session = 0
	if r.refCount == 0 && r.state == loaded {
		s.unloadLocked(r)
	}
}

// slot waits for one of the model's NUM_PARALLEL slots. With StrictQueue,
// more than MaxQueue waiters get ErrMaxQueue.
func (l *lease) slot(ctx context.Context) error {
	s, r := l.s, l.r
	select {
	case r.slots <- struct{}{}:
	default:
		s.mu.Lock()
		if s.cfg.StrictQueue && r.waiting >= s.cfg.MaxQueue {
			s.mu.Unlock()
			return ErrMaxQueue
		}
		r.waiting++
		s.mu.Unlock()
		var err error
		select {
		case r.slots <- struct{}{}:
		case <-ctx.Done():
			err = ctx.Err()
		}
		s.mu.Lock()
		r.waiting--
		s.mu.Unlock()
		if err != nil {
			return err
		}
	}
	s.mu.Lock()
	r.busy++
	s.mu.Unlock()
	l.slotHeld = true
	return nil
}

// busy reports how many slots of the lease's model are in use.
func (l *lease) busy() int {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	return l.r.busy
}

// release gives back the slot and the runner.
func (l *lease) release() {
	s, r := l.s, l.r
	held := l.slotHeld
	if held {
		<-r.slots
		l.slotHeld = false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if held {
		r.busy--
	}
	r.refCount--
	if r.refCount <= 0 {
		r.refCount = 0
		if r.state == loaded {
			s.idleLocked(r)
		}
	}
}

// modelStatus is one runner as /api/ps and /metrics see it.
type modelStatus struct {
	numCtx    int
	name      string
	state     runnerState
	expiresAt time.Time
	session   time.Duration
	refCount  int
	queued    int
	busy      int
}

// snapshot returns every model's status, in configuration order.
func (s *scheduler) snapshot() []modelStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]modelStatus, 0, len(s.order))
	for _, m := range s.order {
		r := s.runners[m]
		out = append(out, modelStatus{
			name: m, state: r.state, expiresAt: r.expiresAt, session: r.session, numCtx: r.numCtx,
			refCount: r.refCount, queued: r.pendingLoad + r.waiting, busy: r.busy,
		})
	}
	return out
}

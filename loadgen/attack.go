package loadgen

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Attacker runs one load run; its Attack method yields a *Result per
// request, like vegeta's Attacker.Attack:
//
//	Arrivals(pacer) ──due times──▶ open(): sleep until due, take a slot
//	                                   │ (bounded by MaxInFlight; late if waiting)
//	                                   ▼
//	                    goroutine per request: Targeter → Client.Do
//	                                   │ *Result
//	                                   ▼
//	                      <-chan *Result ──▶ Run: Results.Add, Progress
//
// Use Run unless you need the raw results as they come (a custom
// aggregator, a raw log); Run is NewAttacker + Attack + Results.Add.
type Attacker struct {
	cfg      Config
	targeter Targeter
	client   *Client
	results  chan *Result
	start    time.Time
	once     sync.Once

	sent, inFlight, peak     atomic.Int64
	scheduled, late, dropped atomic.Int64
}

// AttackStats are the generator's own counts, final once the channel
// Attack returned is closed.
type AttackStats struct {
	Start        time.Time // when the run started: arrival offsets count from here
	Scheduled    int64     // arrivals the pacer asked for (closed model: requests started)
	Sent         int64     // requests that left
	Late         int64     // sent more than LateAfter after they were due
	Dropped      int64     // scheduled but never sent
	InFlight     int64     // now
	PeakInFlight int64
}

// NewAttacker checks cfg (filling defaults), refuses a non-loopback target,
// and resolves the model for mix entries that name none (GET /api/tags).
func NewAttacker(ctx context.Context, cfg Config) (*Attacker, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if !cfg.AllowNonLoopback {
		if err := checkLoopback(ctx, cfg.Target); err != nil {
			return nil, err
		}
	}
	model := cfg.Model
	if model == "" && needsModel(cfg.Mix) {
		m, err := FirstModel(ctx, cfg.HTTPClient, cfg.Target)
		if err != nil {
			return nil, err
		}
		model = m
	}
	targeter := NewTargeter(cfg.Target, cfg.Mix, model, cfg.Seed)
	if sh := cfg.Shard; sh.split() {
		// This shard's arrivals are every Count-th of the full schedule,
		// each with the request the full run draws for it.
		cfg.Pacer = ShardPacer{Pacer: cfg.Pacer, Shard: sh}
		full := targeter
		targeter = func(seq uint64, t *Target) error { return full(sh.global(seq), t) }
	}
	return &Attacker{
		cfg:      cfg,
		targeter: targeter,
		client:   &Client{HTTP: cfg.HTTPClient, Timeout: cfg.Timeout},
		results:  make(chan *Result, 8192),
	}, nil
}

// Attack starts the run now and returns its results, closed once every
// request has ended. Cancelling ctx stops sending and cancels the requests
// in flight. Call it once; later calls return the same channel.
func (a *Attacker) Attack(ctx context.Context) <-chan *Result {
	a.once.Do(func() {
		a.start = time.Now()
		if a.cfg.Pacer != nil {
			go a.open(ctx)
		} else {
			go a.closed(ctx)
		}
	})
	return a.results
}

// Stats returns the generator's counts so far.
func (a *Attacker) Stats() AttackStats {
	return AttackStats{
		Start: a.start, Scheduled: a.scheduled.Load(), Sent: a.sent.Load(), Late: a.late.Load(),
		Dropped: a.dropped.Load(), InFlight: a.inFlight.Load(), PeakInFlight: a.peak.Load(),
	}
}

// open sends every arrival at its due time, whatever the responses do.
// Each request gets its own goroutine: a slow response never holds up the
// next send. Only MaxInFlight can: then the send waits for a slot and is
// counted late (its latency still starts at its due time), and past
// Duration+Grace the arrivals left are dropped, counted, not sent.
func (a *Attacker) open(ctx context.Context) {
	defer close(a.results)
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, a.cfg.MaxInFlight)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	deadline := a.start.Add(a.cfg.Duration + a.cfg.Grace)
	stopped := false
	var seq uint64
	for off := range Arrivals(a.cfg.Pacer, a.cfg.Duration, a.cfg.MaxRequests) {
		a.scheduled.Add(1)
		if stopped {
			a.dropped.Add(1)
			continue
		}
		due := a.start.Add(off)
		if !sleepUntil(ctx, timer, due) {
			stopped = true
			a.dropped.Add(1)
			continue
		}
		select {
		case slots <- struct{}{}:
		default:
			// Every slot is taken: wait, bounded by the deadline.
			timer.Reset(time.Until(deadline))
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				stopped = true
			case <-timer.C:
				stopped = true
			}
			if stopped {
				a.dropped.Add(1)
				continue
			}
		}
		if time.Since(deadline) > 0 {
			<-slots
			stopped = true
			a.dropped.Add(1)
			continue
		}
		a.track(1)
		wg.Add(1)
		go func(seq uint64, due time.Time) {
			defer wg.Done()
			a.results <- a.do(ctx, seq, due)
			a.track(-1)
			<-slots
		}(seq, due)
		seq++
	}
}

// closed runs Users loops that each send, wait for the whole response and
// think, until Duration has passed.
func (a *Attacker) closed(ctx context.Context) {
	defer close(a.results)
	var wg sync.WaitGroup
	end := a.start.Add(a.cfg.Duration)
	var next atomic.Uint64
	for range a.cfg.Users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			timer := time.NewTimer(time.Hour)
			defer timer.Stop()
			for ctx.Err() == nil && time.Now().Before(end) {
				seq := next.Add(1) - 1
				if seq >= a.cfg.MaxRequests {
					return
				}
				a.scheduled.Add(1)
				a.track(1)
				a.results <- a.do(ctx, seq, time.Now())
				a.track(-1)
				if a.cfg.ThinkTime > 0 && !sleepUntil(ctx, timer, time.Now().Add(a.cfg.ThinkTime)) {
					return
				}
			}
		}()
	}
	wg.Wait()
}

// do builds and sends request seq, due at due.
func (a *Attacker) do(ctx context.Context, seq uint64, due time.Time) *Result {
	var t Target
	if err := a.targeter(seq, &t); err != nil {
		now := time.Now()
		return &Result{Seq: seq, Intended: due, Done: now, Latency: now.Sub(due), Kind: KindBadBody, Error: "build request: " + err.Error()}
	}
	a.sent.Add(1)
	r := a.client.Do(ctx, &t, due)
	r.Seq = seq
	// Late by the same measure as send_delay_ms: when the request left.
	if !r.Sent.IsZero() && r.Sent.Sub(due) > a.cfg.LateAfter {
		a.late.Add(1)
	}
	return r
}

func (a *Attacker) track(d int64) {
	n := a.inFlight.Add(d)
	for {
		p := a.peak.Load()
		if n <= p || a.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

// sleepUntil waits until t or ctx ends; false if ctx ended.
func sleepUntil(ctx context.Context, timer *time.Timer, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer.Reset(d)
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

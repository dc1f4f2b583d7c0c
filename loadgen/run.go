package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Defaults for Config's zero values.
const (
	DefaultMaxInFlight   = 10000
	DefaultTimeout       = 60 * time.Second
	DefaultLateAfter     = 10 * time.Millisecond
	DefaultGrace         = 2 * time.Second
	DefaultProgressEvery = time.Second
	DefaultMaxRequests   = 50_000_000
)

// Config describes one run. Exactly one of Pacer (open model) and Users
// (closed model) is set.
type Config struct {
	Target   string        // server root, e.g. http://127.0.0.1:11434; must be loopback unless AllowNonLoopback
	Mix      *Mix          // nil: DefaultMix(Model, DefaultPromptTokens, DefaultMaxTokens)
	Model    string        // model for mix entries that name none; "": the first of GET /api/tags
	Duration time.Duration // how long arrivals are scheduled (open) or users send (closed); > 0

	// Open model: arrivals at the times Pacer fixes in advance, whatever
	// the responses do.
	Pacer Pacer

	// Closed model, for comparison: Users loops of send, wait for the whole
	// response, think ThinkTime. Slow responses slow the arrivals, which
	// hides stalls (coordinated omission): do not use it to measure latency.
	Users     int
	ThinkTime time.Duration

	Timeout     time.Duration // per request, stream included; 0: DefaultTimeout
	MaxInFlight int           // bound on concurrent requests (open model); 0: DefaultMaxInFlight
	LateAfter   time.Duration // a send later than this after its due time counts as late; 0: DefaultLateAfter
	Grace       time.Duration // after Duration, arrivals still unsent this long are dropped; 0: DefaultGrace
	MaxRequests uint64        // bound on arrivals, whatever the pacer says; 0: DefaultMaxRequests

	Seed uint64 // drives the mix and Poisson pacer; same seed, same requests
	// Shard makes this run one of several generators that share the
	// pacer's rate and the mix (shard.go); open model only.
	Shard    Shard
	Scenario string // written into the results; "" = "load"

	HTTPClient       *http.Client // nil: one on NewTransport(MaxInFlight)
	AllowNonLoopback bool         // allow a target off 127.0.0.0/8 and ::1 (only the project's own containers)

	// Progress, if set, is called every ProgressEvery (0: every second)
	// from Run's goroutine while the run goes on.
	Progress      func(Progress)
	ProgressEvery time.Duration

	// OnResult, if set, sees every Result as it is added (from Run's
	// goroutine), e.g. to write a raw log. r is not reused afterwards.
	OnResult func(r *Result)
}

// Progress is a snapshot of a running run.
type Progress struct {
	Elapsed   time.Duration
	Total     time.Duration // Duration of the run
	Sent      int64         // requests sent so far
	Completed int64         // responses finished so far
	Failed    int64
	InFlight  int64
	Rate      float64       // sends per second over the last interval
	P99       time.Duration // latency p99 of the responses finished in the last interval
}

func (c *Config) defaults() error {
	if c.Duration <= 0 {
		return errors.New("duration must be positive")
	}
	if (c.Pacer == nil) == (c.Users <= 0) {
		return errors.New("set exactly one of a pacer (open model) or users (closed model)")
	}
	if c.Users < 0 || c.ThinkTime < 0 {
		return errors.New("users and think time must not be negative")
	}
	if err := c.Shard.validate(); err != nil {
		return err
	}
	if c.Shard.split() && c.Users > 0 {
		return errors.New("shards split an open model's arrivals; a closed model's users are per generator")
	}
	if c.Pacer != nil {
		if w, stop := c.Pacer.Pace(0, 0); !stop && w == 0 && c.Pacer.Rate(0) == 0 {
			return errors.New("the pacer has no rate (vegeta's zero pacer means unlimited)")
		}
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.LateAfter <= 0 {
		c.LateAfter = DefaultLateAfter
	}
	if c.Grace <= 0 {
		c.Grace = DefaultGrace
	}
	if c.MaxRequests == 0 {
		c.MaxRequests = DefaultMaxRequests
	}
	if c.ProgressEvery <= 0 {
		c.ProgressEvery = DefaultProgressEvery
	}
	if c.Scenario == "" {
		c.Scenario = "load"
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Transport: NewTransport(max(c.MaxInFlight, c.Users))}
	}
	if c.Mix == nil {
		c.Mix = DefaultMix("", DefaultPromptTokens, DefaultMaxTokens)
	} else {
		// Validate a copy: it fills in defaults, and the caller's Mix may be
		// shared by concurrent runs.
		m := Mix{Requests: slices.Clone(c.Mix.Requests)}
		if err := m.Validate(); err != nil {
			return err
		}
		c.Mix = &m
	}
	return nil
}

// Run drives load at cfg.Target as cfg says and returns the closed
// Results: NewAttacker, Attack, and every Result added to Results. It
// returns an error only when the run cannot start (bad config,
// non-loopback target, no model); failed requests are data in the Results.
// Cancelling ctx stops sending at once; requests in flight are cancelled
// and counted as "cancelled", unsent arrivals as dropped, and the partial
// Results are returned with ctx's error.
func Run(ctx context.Context, cfg Config) (*Results, error) {
	a, err := NewAttacker(ctx, cfg)
	if err != nil {
		return nil, err
	}
	cfg = a.cfg
	cpu0 := cpuTime()
	results := a.Attack(ctx)
	var rate func(time.Duration) float64
	if cfg.Pacer != nil {
		rate = cfg.Pacer.Rate
	}
	rs := NewResults(a.start, rate)
	rs.Scenario, rs.Target, rs.Seed = cfg.Scenario, cfg.Target, cfg.Seed
	rs.DurationS = cfg.Duration.Seconds()
	rs.Model, rs.Arrival = "open", fmt.Sprint(cfg.Pacer)
	if cfg.Pacer == nil {
		rs.Model = "closed"
		rs.Arrival = fmt.Sprintf("closed: %d users, think %s", cfg.Users, cfg.ThinkTime)
	}
	rs.Generator = Generator{NumCPU: runtime.NumCPU(), LoadAvg1: loadAvg1(), MaxInFlight: cfg.MaxInFlight,
		LateAfterMS: float64(cfg.LateAfter) / 1e6}
	if cfg.Pacer == nil {
		rs.Generator.MaxInFlight = cfg.Users
	}

	a.collect(results, rs)

	st := a.Stats()
	rs.Requests.Scheduled, rs.Requests.Late, rs.Requests.Dropped = st.Scheduled, st.Late, st.Dropped
	rs.Generator.PeakInFlight = st.PeakInFlight
	rs.Generator.CPUSeconds = round3((cpuTime() - cpu0).Seconds())
	rs.Close()
	return rs, ctx.Err()
}

// needsModel reports whether some mix entry leaves its model to the server.
func needsModel(m *Mix) bool {
	for _, e := range m.Requests {
		if e.Model == "" {
			return true
		}
	}
	return false
}

// collect adds every result to rs and reports progress until the attack
// closes its channel.
func (a *Attacker) collect(results <-chan *Result, rs *Results) {
	tick := time.NewTicker(a.cfg.ProgressEvery)
	defer tick.Stop()
	window := NewHistogram()
	var lastSent int64
	lastTick := a.start
	for {
		select {
		case r, ok := <-results:
			if !ok {
				return
			}
			rs.Add(r)
			window.Record(r.Latency)
			if a.cfg.OnResult != nil {
				a.cfg.OnResult(r)
			}
		case now := <-tick.C:
			if a.cfg.Progress == nil {
				continue
			}
			sent := a.sent.Load()
			p := Progress{
				Elapsed: now.Sub(a.start), Total: a.cfg.Duration,
				Sent: sent, Completed: rs.Requests.Total, Failed: rs.Requests.Failed,
				InFlight: a.inFlight.Load(), P99: window.Percentile(99),
			}
			if dt := now.Sub(lastTick).Seconds(); dt > 0 {
				p.Rate = float64(sent-lastSent) / dt
			}
			lastSent, lastTick = sent, now
			window = NewHistogram()
			a.cfg.Progress(p)
		}
	}
}

// cpuTime is this process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadAvg1 is the machine's 1-minute load average (0 where unknown), so a
// result says how shared the machine was.
func loadAvg1() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _, _ := strings.Cut(string(b), " ")
	v, _ := strconv.ParseFloat(f, 64)
	return v
}

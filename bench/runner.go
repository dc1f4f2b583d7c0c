package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/oklog/run"

	"github.com/dsbridge/dsbridge/chaos"
	"github.com/dsbridge/dsbridge/dashboards/promrun"
	"github.com/dsbridge/dsbridge/scenarios"
)

// ErrBroken marks a run that could not be carried out (a process would not
// start, the run was interrupted): exit code 2, as opposed to a failed gate.
var ErrBroken = errors.New("run broke")

// Options configures one bench run.
type Options struct {
	Scenario *scenarios.Scenario
	OutDir   string
	// Binary is the dsbridge binary that runs the sims and bridges.
	Binary string
	// Driver sends the load (default LoadgenDriver).
	Driver Driver
	// Progress receives a status line every ProgressEvery (nil: none).
	Progress      io.Writer
	ProgressEvery time.Duration
	// ScrapeEvery is the /metrics scrape interval (default 1s).
	ScrapeEvery time.Duration
	// Nginx overrides the nginx binary.
	Nginx string
	// Prometheus starts a real Prometheus watching the run (also when the
	// scenario's observability.prometheus is set); see startPrometheus.
	Prometheus bool
	// Runtime is where the cluster runs: "local" (default) or "docker";
	// "" takes the scenario's topology.runtime.
	Runtime string
}

// Run carries out one scenario and writes results.json, report.md and
// report.html into OutDir. It returns the results (also when the run broke,
// with Error set, whenever something could be written) and an error wrapping
// ErrBroken when the run itself failed; failed gates are not an error, they
// are Results.Pass == false.
func Run(ctx context.Context, o Options) (*Results, error) {
	sc := o.Scenario
	if o.Driver == nil {
		o.Driver = LoadgenDriver{}
	}
	if o.ScrapeEvery == 0 {
		o.ScrapeEvery = time.Second
	}
	if o.ProgressEvery == 0 {
		o.ProgressEvery = 2 * time.Second
	}
	if err := ValidateGates(sc.Gates); err != nil {
		return nil, fmt.Errorf("%w: scenario %s: %v", ErrBroken, sc.Name, err)
	}
	for m := range sc.Gates {
		// A misspelt metric is the scenario's fault: say so before starting
		// a cluster, rather than failing the gate after the run.
		if !slices.Contains(Metrics(), m) {
			return nil, fmt.Errorf("%w: scenario %s: gates.%s: unknown metric (known: %s)", ErrBroken, sc.Name, m, strings.Join(Metrics(), ", "))
		}
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBroken, err)
	}
	res := &Results{Schema: SchemaVersion, Scenario: sc.Name, Description: strings.TrimSpace(sc.Description),
		StartedAt: time.Now().UTC(), DurationS: sc.Duration().Seconds(), SLO: sc.SLO,
		Topology: TopologyInfo{Sims: sc.Topology.Sims.Count, Bridges: sc.Topology.Bridges.Count,
			LB: sc.Topology.LB, Network: sc.Topology.Network, Profile: sc.Topology.Sims.Profile},
		Machine: Machine{NumCPU: runtime.NumCPU(), LoadAvgStart: loadAvg1()},
		Errors:  map[string]int64{}, Gates: []GateResult{}, Timeline: []TimelinePoint{},
		Chaos: []ChaosEvent{}, Upstreams: []UpstreamShare{}}
	broke := func(err error) (*Results, error) {
		res.Error = err.Error()
		res.Pass = false
		if werr := WriteAll(res, o.OutDir); werr != nil {
			err = errors.Join(err, werr)
		}
		return res, fmt.Errorf("%w: %v", ErrBroken, err)
	}

	runtime := o.Runtime
	if runtime == "" {
		runtime = sc.Topology.Runtime
	}
	if err := checkRuntime(sc, runtime); err != nil {
		return broke(err)
	}
	res.Topology.Runtime, res.Topology.Ollamas = runtime, sc.Topology.Ollamas.Count
	topo, err := StartTopology(ctx, sc, TopologyOptions{Runtime: runtime, Binary: o.Binary, Nginx: o.Nginx, Dir: o.OutDir, Seed: sc.Seed})
	if err != nil {
		return broke(fmt.Errorf("start topology: %w", err))
	}
	// Whatever happens from here on, everything started is stopped.
	defer topo.Stop()
	// Statically known: the report shows each gate's PromQL with or
	// without a Prometheus to evaluate it.
	window := promWindow(sc.Duration())
	var prom *promrun.Server
	var promTargets int
	if o.Prometheus || sc.Observability.Prometheus {
		prom, promTargets, err = startPrometheus(ctx, topo, o.OutDir)
		if err != nil {
			return broke(fmt.Errorf("start prometheus: %w", err))
		}
		// Deferred after topo.Stop, so it runs before it: Prometheus
		// goes first and logs no scrape failures of a stopping cluster.
		defer func() { _ = prom.Stop() }()
		if o.Progress != nil {
			// Open during the run: the dashboards' queries work against it.
			fmt.Fprintf(o.Progress, "prometheus at %s, scraping %d targets each %v\n", prom.URL, promTargets, promScrapeInterval)
		}
	}

	rec := NewRecorder(time.Duration(sc.SLO.P99Ms * float64(time.Millisecond)))
	scr := NewScraper()
	tl := &timeline{}
	rng := rand.New(rand.NewPCG(uint64(sc.Seed), 0xc4a05))
	var drvStats DriverStats
	var drvErr, chaosErr error
	var start time.Time // set just before the load starts
	elapsed := func() float64 { return time.Since(start).Seconds() }
	scrapeAll := func(ctx context.Context) {
		var wg sync.WaitGroup
		t := elapsed()
		for _, m := range topo.Members() {
			if !m.Scraped() {
				continue
			}
			wg.Add(1)
			go func() { defer wg.Done(); scr.Scrape(ctx, m.Name, m.URL, t) }()
		}
		wg.Wait()
	}
	start = time.Now()
	scrapeAll(ctx) // the baseline, before any load
	// One clock for the load, the chaos timeline and the scrapes: offsets
	// in results.json are all from this instant.
	start = time.Now()

	interrupted := false
	var g run.Group
	{ // The load: its end ends the run.
		lctx, cancel := context.WithCancel(ctx)
		g.Add(func() error {
			drvStats, drvErr = o.Driver.Run(lctx, LoadPlan{Start: start, Targets: topo.Entry, Load: sc.Load, Seed: sc.Seed, DefaultModel: topo.Model}, rec.Record)
			return drvErr
		}, func(error) { cancel() })
	}
	{ // The chaos timeline.
		cctx, cancel := context.WithCancel(context.Background())
		g.Add(func() error {
			chaosErr = runChaos(cctx, sc, topo, rng, start, tl)
			<-cctx.Done()
			return nil
		}, func(error) { cancel() })
	}
	{ // Scrapes.
		sctx, cancel := context.WithCancel(context.Background())
		g.Add(func() error {
			t := time.NewTicker(o.ScrapeEvery)
			defer t.Stop()
			for {
				select {
				case <-sctx.Done():
					return nil
				case <-t.C:
					scrapeAll(sctx)
				}
			}
		}, func(error) { cancel() })
	}
	if o.Progress != nil { // Progress line.
		pctx, cancel := context.WithCancel(context.Background())
		g.Add(func() error {
			t := time.NewTicker(o.ProgressEvery)
			defer t.Stop()
			for {
				select {
				case <-pctx.Done():
					return nil
				case <-t.C:
					progress(o.Progress, sc, rec, time.Since(start))
				}
			}
		}, func(error) { cancel() })
	}
	{ // Interruption: SIGINT/SIGTERM cancel ctx (see main.go).
		ictx, cancel := context.WithCancel(ctx)
		g.Add(func() error {
			<-ictx.Done()
			interrupted = ctx.Err() != nil
			return nil
		}, func(error) { cancel() })
	}
	// The group ends when its first actor returns: the load when it is
	// done, or the interruption.
	_ = g.Run()
	// Revert whatever faults are still in place before the last scrape, so
	// that counters of restarted processes are read.
	tl.revertAll()
	scrapeAll(context.Background())

	res.Machine.LoadAvgEnd = loadAvg1()
	snap := rec.Snapshot()
	fill(res, snap, sc, drvStats, tl.events(), scr, topo)
	res.Driver = drvStats
	attachPromQL(res.Gates, window)
	if prom != nil && !interrupted {
		evaluatePrometheus(context.Background(), prom, res, promTargets, start)
	}

	switch {
	case interrupted:
		return broke(errors.New("interrupted"))
	case drvErr != nil:
		return broke(fmt.Errorf("load: %w", drvErr))
	case chaosErr != nil:
		return broke(fmt.Errorf("chaos: %w", chaosErr))
	case snap.Total == 0:
		return broke(errors.New("no request was sent"))
	}
	if err := WriteAll(res, o.OutDir); err != nil {
		return res, fmt.Errorf("%w: write reports: %v", ErrBroken, err)
	}
	return res, nil
}

// progress prints one status line.
func progress(w io.Writer, sc *scenarios.Scenario, rec *Recorder, el time.Duration) {
	total, failed := rec.Counts()
	sec := int(el / time.Second)
	pct := 0.0
	if total > 0 {
		pct = 100 * float64(failed) / float64(total)
	}
	p99 := "p99(5s) in flight"
	if v := rec.RecentP99(sec, 5); v >= 0 {
		p99 = fmt.Sprintf("p99(5s) %.1f ms", v)
	}
	fmt.Fprintf(w, "%s  %3ds/%ds  rate %.0f/s  done %d  errors %d (%.2f%%)  %s\n",
		sc.Name, sec, int(sc.Duration().Seconds()), sc.RateAt(el), total, failed, pct, p99)
}

// fill computes the results from what was recorded.
func fill(res *Results, snap Snapshot, sc *scenarios.Scenario, ds DriverStats, events []ChaosEvent, scr *Scraper, topo *Topology) {
	dur := sc.Duration().Seconds()
	res.Requests = Requests{Total: snap.Total, Failed: snap.Failed, Tokens: snap.Tokens}
	if dur > 0 {
		res.Requests.RateAchieved = float64(snap.Total-snap.Errors["dropped"]) / dur
		sched := float64(ds.Scheduled)
		if sched == 0 {
			sched = float64(snap.Total)
		}
		res.Requests.RateRequested = sched / dur
	}
	if snap.Total > 0 {
		res.Requests.ErrorRate = float64(snap.Failed) / float64(snap.Total)
	}
	res.LatencyMs, res.TTFTMs, res.ITLMs, res.TokensPerSecond = dist(snap.Latency), dist(snap.TTFT), dist(snap.ITL), dist(snap.TPS)
	res.Errors = snap.Errors
	for _, w := range snap.Windows {
		res.Timeline = append(res.Timeline, TimelinePoint{WindowStats: w, RateRequested: sc.RateAt(time.Duration(w.Second) * time.Second)})
	}
	// Failover time per disruptive event, searched up to the next one.
	var fo []float64
	for i := range events {
		e := &events[i]
		if !disruptive(e.Action) || e.Error != "" {
			continue
		}
		end := dur
		for _, n := range events[i+1:] {
			if disruptive(n.Action) && n.AtS > e.AtS {
				end = n.AtS
				break
			}
		}
		e.FailoverTimeMs = FailoverTime(snap.Bad, e.AtS, end)
		fo = append(fo, e.FailoverTimeMs)
	}
	res.Chaos = events
	if sc.PeakRate() > 0 && len(sc.Load.Stages) == 1 && sc.Load.Stages[0].Target > sc.Load.Stages[0].Rate {
		if k, err := FindKnee(res.Timeline, sc.SLO); err == nil {
			res.Knee = k
		}
	}
	// Shares first: the plan uses the busiest sim's share.
	upstreamShare(res, scr, topo)
	if res.Knee != nil {
		// A plan for the seed's 3000 req/s target at the run's SLO.
		if p, err := MakePlan(res, 3000, 0, 0); err == nil {
			res.Plan = p
		}
	}
	gates, _ := EvaluateGates(sc.Gates, runMetrics{snap: snap, durationS: dur, failover: fo, knee: res.Knee})
	res.Gates = gates
	res.Pass = true
	for _, g := range gates {
		res.Pass = res.Pass && g.Pass
	}
}

// upstreamShare works out each sim's part of the traffic, preferring the
// bridges' own count per upstream and falling back on the sims' counters,
// and records the scraped counters.
func upstreamShare(res *Results, scr *Scraper, topo *Topology) {
	res.Scraped = map[string]map[string]float64{}
	perSim := map[string]float64{}
	source := "bridge_upstream_requests_total"
	for _, b := range topo.Bridges {
		inc := scr.Increase(b.Name)
		res.Failovers += Sum(inc, "bridge_failovers_total", nil)
		for k, v := range inc {
			name, labels := SeriesKey(k)
			if name != "bridge_upstream_requests_total" {
				continue
			}
			for _, s := range topo.Sims {
				// The bridge labels an upstream with its URL: the sim's, or
				// its Toxiproxy proxy's. Exact matches only: 127.0.0.1:4000
				// is a prefix of 127.0.0.1:40001.
				u := strings.TrimRight(labels["upstream"], "/")
				if u == s.Name || u == s.URL || u == s.Addr || (s.UpstreamURL != "" && u == s.UpstreamURL) || (s.ProxyAddr != "" && (u == "http://"+s.ProxyAddr || u == s.ProxyAddr)) {
					perSim[s.Name] += v
				}
			}
		}
	}
	var total float64
	for _, v := range perSim {
		total += v
	}
	if total == 0 {
		source = "ollamasim_requests_total"
		for _, s := range topo.Sims {
			perSim[s.Name] = Sum(scr.Increase(s.Name), "ollamasim_requests_total", nil)
			total += perSim[s.Name]
		}
	}
	for _, s := range topo.Sims {
		u := UpstreamShare{Name: s.Name, Requests: perSim[s.Name], Source: source}
		if total > 0 {
			u.Share = perSim[s.Name] / total
		}
		res.Upstreams = append(res.Upstreams, u)
	}
	for _, m := range topo.Members() {
		if !m.Scraped() {
			continue
		}
		inc, last := scr.Increase(m.Name), scr.Last(m.Name)
		out := map[string]float64{}
		for k, v := range last {
			name, _ := SeriesKey(k)
			if strings.HasSuffix(name, "_total") || strings.HasSuffix(name, "_count") || strings.HasSuffix(name, "_sum") {
				out[k] = inc[k]
			} else {
				out[k] = v
			}
		}
		res.Scraped[m.Name] = out
	}
	res.ScrapeErrors = scr.Errors()
}

// timeline keeps the chaos events and the reverts still pending.
type timeline struct {
	mu      sync.Mutex
	evs     []ChaosEvent
	pending []pendingRevert
	start   time.Time
}

type pendingRevert struct {
	at     time.Time
	idx    int
	revert chaos.Revert
}

func (t *timeline) events() []ChaosEvent {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := append([]ChaosEvent(nil), t.evs...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].AtS < out[j].AtS })
	return out
}

// revertAll runs every pending revert now (the run is ending).
func (t *timeline) revertAll() {
	t.mu.Lock()
	p := t.pending
	t.pending = nil
	t.mu.Unlock()
	for _, r := range p {
		t.doRevert(r)
	}
}

func (t *timeline) doRevert(r pendingRevert) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := r.revert(ctx)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.evs[r.idx].RevertedS = time.Since(t.start).Seconds()
	if err != nil {
		t.evs[r.idx].Error = strings.TrimSpace(t.evs[r.idx].Error + " revert: " + err.Error())
	}
}

// runChaos walks the scenario's chaos events in time order: at each event's
// time it resolves the targets, injects, and schedules the revert
// (restart_after for kill, duration for the others). It returns when every
// event has been injected and every scheduled revert has run, or ctx ends
// (then the caller runs the pending reverts).
func runChaos(ctx context.Context, sc *scenarios.Scenario, topo *Topology, rng *rand.Rand, start time.Time, tl *timeline) error {
	tl.start = start
	evs := append([]scenarios.Event(nil), sc.Chaos...)
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].At < evs[j].At })
	deps := chaos.Deps{Network: topo.Net, Rand: rng}
	var wg sync.WaitGroup
	defer wg.Wait()
	var firstErr error
	for _, ev := range evs {
		if !sleepUntil(ctx, start.Add(ev.At.D())) {
			return firstErr
		}
		ce := ChaosEvent{AtS: time.Since(start).Seconds(), Action: ev.Action, Target: ev.Target}
		spec := chaos.Spec{Fault: ev.Fault, Interval: ev.Interval.D(), Grace: ev.Grace.D(),
			MemoryBytes: int64(ev.MemoryMB) << 20, CPUs: ev.CPUs}
		if ev.Toxic != nil {
			spec.Toxic = chaos.ToxicSpec{Type: ev.Toxic.Type, Stream: ev.Toxic.Stream, Toxicity: ev.Toxic.Toxicity, Attributes: ev.Toxic.Attributes}
		}
		sel := ev.Target
		if sel == "" {
			sel = "bridges"
		}
		targets, err := chaos.Resolve(sel, topo.Targets(), rng)
		var revert chaos.Revert
		if err == nil {
			var inj chaos.Injector
			inj, err = chaos.New(ev.Action, spec, deps)
			if err == nil {
				if d, ok := inj.(chaos.Describer); ok {
					ce.Description = d.Describe()
				}
				for _, t := range targets {
					ce.Targets = append(ce.Targets, t.Name)
				}
				revert, err = inj.Inject(ctx, targets)
			}
		}
		ce.DoneS = time.Since(start).Seconds()
		if err != nil {
			ce.Error = err.Error()
			firstErr = errors.Join(firstErr, fmt.Errorf("%s %s at %v: %w", ev.Action, ev.Target, ev.At, err))
		}
		tl.mu.Lock()
		idx := len(tl.evs)
		tl.evs = append(tl.evs, ce)
		tl.mu.Unlock()
		if revert == nil {
			continue
		}
		after := ev.Duration.D()
		if ev.Action == "kill" {
			after = ev.RestartAfter.D()
			if after == 0 {
				continue // stays dead
			}
		}
		if after == 0 {
			// No duration: the fault stays until the run ends.
			tl.mu.Lock()
			tl.pending = append(tl.pending, pendingRevert{idx: idx, revert: revert})
			tl.mu.Unlock()
			continue
		}
		pr := pendingRevert{at: start.Add(ev.At.D() + after), idx: idx, revert: revert}
		tl.mu.Lock()
		tl.pending = append(tl.pending, pr)
		tl.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !sleepUntil(ctx, pr.at) {
				return // revertAll runs it
			}
			if tl.take(idx) {
				tl.doRevert(pr)
			}
		}()
	}
	return firstErr
}

// take removes a pending revert; false if revertAll already took it.
func (t *timeline) take(idx int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, p := range t.pending {
		if p.idx == idx {
			t.pending = append(t.pending[:i], t.pending[i+1:]...)
			return true
		}
	}
	return false
}

// sleepUntil waits until t; false if ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

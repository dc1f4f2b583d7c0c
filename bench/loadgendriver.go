package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dsbridge/dsbridge/loadgen"
	"github.com/dsbridge/dsbridge/scenarios"
)

// LoadgenDriver drives a scenario's load with the loadgen package (the
// engine of `dsbridge load`): open model, latency from the intended send
// time, NDJSON and SSE aware. loadgen aims at one base URL, so with several
// bridges and no load balancer the load is split into one shard per bridge,
// each at 1/N of the rate (N Poisson streams at rate/N add up to one at
// rate); every result reaches the runner's recorder through OnResult.
type LoadgenDriver struct{}

// Run implements Driver.
func (LoadgenDriver) Run(ctx context.Context, plan LoadPlan, record func(Sample)) (DriverStats, error) {
	st := DriverStats{Name: "loadgen"}
	n := len(plan.Targets)
	if n == 0 {
		return st, errors.New("no targets")
	}
	mix, err := loadgenMix(plan)
	if err != nil {
		return st, err
	}
	var dur time.Duration
	for _, s := range plan.Load.Stages {
		dur += s.Duration.D()
	}
	start := plan.Start
	if start.IsZero() {
		start = time.Now()
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		all  []*loadgen.Results
	)
	for i, target := range plan.Targets {
		cfg := loadgen.Config{
			Target: target, Mix: mix, Model: plan.DefaultModel, Duration: dur,
			Timeout: plan.Load.Timeout.D(), Seed: uint64(plan.Seed) + uint64(i)*7919,
			Scenario: "bench",
			OnResult: func(r *loadgen.Result) { record(sampleOf(r, start)) },
		}
		if plan.Load.Model == "closed" {
			cfg.Users = max(1, plan.Load.Users/n)
			if i < plan.Load.Users%n {
				cfg.Users++
			}
		} else {
			cfg.Pacer = pacerFor(plan.Load, float64(n), cfg.Seed)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rs, err := loadgen.Run(ctx, cfg)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", target, err))
			}
			if rs != nil {
				all = append(all, rs)
			}
		}()
	}
	wg.Wait()
	for _, rs := range all {
		st.Scheduled += rs.Requests.Scheduled
		st.Sent += rs.Requests.Total
		st.Dropped += rs.Requests.Dropped
		st.MaxLagMs = max(st.MaxLagMs, rs.SendDelay.Max)
		st.Late += rs.Requests.Late
		st.CPUCores += rs.Generator.CPUCores
	}
	st.Shards = len(all)
	return st, errors.Join(errs...)
}

// sampleOf converts one loadgen result.
func sampleOf(r *loadgen.Result, start time.Time) Sample {
	s := Sample{Intended: max(r.Intended.Sub(start), 0), Latency: r.Latency, TTFT: r.TTFT,
		Tokens: r.OutputTokens, Status: r.Status, Err: string(r.Kind)}
	if len(r.ITL) > 0 {
		var sum time.Duration
		for _, d := range r.ITL {
			sum += d
		}
		s.ITL = sum / time.Duration(len(r.ITL))
	}
	return s
}

// pacerFor turns the scenario's stages into a loadgen pacer at 1/shards of
// the rate. A constant Poisson stage gets loadgen's Poisson pacer; anything
// else its StagePacer (constant spacing). A jump between stages (a spike)
// becomes a 1 ms ramp, which the StagePacer integrates exactly.
func pacerFor(l scenarios.LoadSpec, shards float64, seed uint64) loadgen.Pacer {
	if l.Arrival == "poisson" && len(l.Stages) == 1 && l.Stages[0].Target == 0 {
		return loadgen.PoissonPacer{Mean: l.Stages[0].Rate / shards, Seed: seed}
	}
	p := loadgen.StagePacer{Start: l.Stages[0].Rate / shards}
	prev := p.Start
	for _, s := range l.Stages {
		d := s.Duration.D()
		from := s.Rate / shards
		if from != prev {
			const jump = time.Millisecond
			p.Stages = append(p.Stages, loadgen.Stage{Duration: jump, Target: from})
			d -= jump
		}
		to := from
		if s.Target != 0 {
			to = s.Target / shards
		}
		p.Stages = append(p.Stages, loadgen.Stage{Duration: d, Target: to})
		prev = to
	}
	return p
}

// loadgenMix writes the scenario's mix in loadgen's YAML form and parses it,
// so loadgen applies its own defaults and checks.
func loadgenMix(plan LoadPlan) (*loadgen.Mix, error) {
	if len(plan.Load.Mix) == 0 {
		return nil, nil // loadgen's default: streamed /api/chat
	}
	type entry struct {
		Name         string  `yaml:"name,omitempty"`
		Weight       float64 `yaml:"weight,omitempty"`
		Endpoint     string  `yaml:"endpoint,omitempty"`
		Model        string  `yaml:"model,omitempty"`
		Stream       *bool   `yaml:"stream,omitempty"`
		PromptTokens int     `yaml:"prompt_tokens,omitempty"`
		MaxTokens    int     `yaml:"max_tokens,omitempty"`
	}
	var es []entry
	for _, m := range plan.Load.Mix {
		es = append(es, entry{Weight: m.Weight, Endpoint: m.Endpoint, Model: m.Model, Stream: m.Stream,
			PromptTokens: m.PromptTokens, MaxTokens: m.MaxTokens})
	}
	b, err := yaml.Marshal(map[string]any{"requests": es})
	if err != nil {
		return nil, err
	}
	mix, err := loadgen.ParseMix(b)
	if err != nil {
		return nil, fmt.Errorf("load.mix: %w", err)
	}
	return mix, nil
}

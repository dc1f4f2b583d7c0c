package loadgen

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Pacer is vegeta's pacer interface, re-exported so callers of this package
// need not import vegeta to pass vegeta.ConstantPacer or vegeta.LinearPacer.
//
// Pace(elapsed, hits) returns how long to wait, from elapsed, until hit
// number hits (0-based) is due. loadgen's scheduler calls it with a virtual
// clock (elapsed is the previous hit's intended time, never the wall clock),
// so every arrival time is fixed in advance, whatever the responses do.
type Pacer = vegeta.Pacer

// ConstantPacer returns vegeta's constant pacer for rate requests/s. vegeta
// takes an integer frequency per period; a fractional rate is expressed per
// 1000 s so 0.5/s and 12.5/s keep their exact interval.
func ConstantPacer(rate float64) Pacer {
	if rate == math.Trunc(rate) && rate < math.MaxInt32 {
		return vegeta.ConstantPacer{Freq: int(rate), Per: time.Second}
	}
	return vegeta.ConstantPacer{Freq: int(math.Round(rate * 1000)), Per: 1000 * time.Second}
}

// PoissonPacer sends at a Mean rate with exponentially distributed gaps
// between arrivals (a Poisson process), which is how independent clients
// arrive. vegeta has no such pacer.
//
// It is pure: the gap before hit n depends only on Seed and n (a splitmix64
// hash, not a shared random source), so a run is repeatable and Pace needs no
// lock. Pace assumes elapsed is the intended time of the previous hit, as
// loadgen's scheduler passes it; vegeta's own attacker, which passes the wall
// clock, would add its own lateness to every gap.
type PoissonPacer struct {
	Mean float64 // mean requests per second; <= 0 stops at once
	Seed uint64
}

var _ Pacer = PoissonPacer{}

// Pace returns the exponential gap before hit number hits.
func (p PoissonPacer) Pace(_ time.Duration, hits uint64) (time.Duration, bool) {
	if p.Mean <= 0 || math.IsNaN(p.Mean) || math.IsInf(p.Mean, 0) {
		return 0, true
	}
	// u in (0,1]: 53 random bits, never 0 so the log is finite.
	u := float64(splitmix64(p.Seed^(hits*0x9e3779b97f4a7c15))>>11+1) / (1 << 53)
	gap := -math.Log(u) / p.Mean
	return time.Duration(gap * 1e9), false
}

// Rate is the mean rate, whatever the elapsed time.
func (p PoissonPacer) Rate(time.Duration) float64 { return p.Mean }

func (p PoissonPacer) String() string { return fmt.Sprintf("Poisson{%g/s seed %d}", p.Mean, p.Seed) }

// splitmix64 is a fast, well-mixed 64-bit hash (Steele et al., 2014), used so
// per-hit randomness is a pure function of (seed, index).
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Stage is one leg of a StagePacer: over Duration the rate moves linearly
// from the previous stage's Target (the pacer's Start for the first) to
// Target, like k6's ramping-arrival-rate stages. Equal rates hold steady.
type Stage struct {
	Duration time.Duration `yaml:"duration" json:"duration"`
	Target   float64       `yaml:"target" json:"target"` // requests per second at the end of the stage
}

// StagePacer ramps the rate through Stages and stops after the last one.
// vegeta's LinearPacer has a single slope and never stops; a ramp-to-knee
// run needs several legs, so this one integrates the piecewise-linear rate
// exactly and solves for the time each hit is due.
type StagePacer struct {
	Start  float64 // requests per second at t=0
	Stages []Stage
}

var _ Pacer = StagePacer{}

// Pace returns the wait from elapsed until hit number hits is due: the time
// t at which the integral of the rate reaches hits+1.
func (p StagePacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	want := float64(hits + 1)
	from, acc := p.Start, 0.0 // rate at the start of the leg, hits before it
	var t0 float64            // seconds at the start of the leg
	for _, s := range p.Stages {
		d := s.Duration.Seconds()
		if d <= 0 {
			from = s.Target
			continue
		}
		area := (from + s.Target) / 2 * d
		if acc+area >= want {
			x := solveRamp(from, (s.Target-from)/d, want-acc, d)
			due := time.Duration((t0 + x) * 1e9)
			if due < elapsed {
				return 0, false // behind: send at once
			}
			return due - elapsed, false
		}
		acc += area
		t0 += d
		from = s.Target
	}
	return 0, true
}

// solveRamp returns x in [0,d] with r0*x + slope*x²/2 = n.
func solveRamp(r0, slope, n, d float64) float64 {
	if math.Abs(slope) < 1e-12 {
		if r0 <= 0 {
			return d
		}
		return math.Min(n/r0, d)
	}
	disc := r0*r0 + 2*slope*n
	if disc < 0 {
		disc = 0
	}
	// The numerically stable root of the quadratic.
	x := 2 * n / (r0 + math.Sqrt(disc))
	if math.IsNaN(x) || x < 0 {
		return d
	}
	return math.Min(x, d)
}

// Rate returns the instantaneous rate at elapsed (0 after the last stage).
func (p StagePacer) Rate(elapsed time.Duration) float64 {
	t := elapsed.Seconds()
	from := p.Start
	for _, s := range p.Stages {
		d := s.Duration.Seconds()
		if t <= d && d > 0 {
			return from + (s.Target-from)*t/d
		}
		t -= d
		from = s.Target
	}
	return 0
}

// Total returns the sum of the stages' durations.
func (p StagePacer) Total() time.Duration {
	var d time.Duration
	for _, s := range p.Stages {
		d += s.Duration
	}
	return d
}

func (p StagePacer) String() string {
	parts := make([]string, len(p.Stages))
	for i, s := range p.Stages {
		parts[i] = fmt.Sprintf("%s:%g", s.Duration, s.Target)
	}
	return fmt.Sprintf("Stages{start %g/s, %s}", p.Start, strings.Join(parts, ","))
}

// ParseStages reads "10s:100,30s:500,10s:0": each leg is DURATION:RATE, the
// rate reached at the end of that leg (see Stage).
func ParseStages(s string) ([]Stage, error) {
	var out []Stage
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		ds, rs, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("stage %q: want DURATION:RATE", part)
		}
		d, err := time.ParseDuration(strings.TrimSpace(ds))
		if err != nil || d < 0 {
			return nil, fmt.Errorf("stage %q: bad duration", part)
		}
		r, err := strconv.ParseFloat(strings.TrimSpace(rs), 64)
		if err != nil || r < 0 || math.IsInf(r, 0) || math.IsNaN(r) {
			return nil, fmt.Errorf("stage %q: bad rate", part)
		}
		out = append(out, Stage{Duration: d, Target: r})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no stages in %q", s)
	}
	return out, nil
}

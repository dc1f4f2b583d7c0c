package calibrate

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Row is one figure measured on both servers.
type Row struct {
	Metric string  `json:"metric"`
	Real   float64 `json:"real"`
	Sim    float64 `json:"sim"`
	Unit   string  `json:"unit"`
	// Gated rows must agree within the tolerance: time to first token and
	// one stream's decode rate at the lowest and the highest concurrency
	// (1 and 4 by default). The others (load time, aggregate rates, the
	// levels in between) are shown for reading: the simulator's slowdowns
	// are linear in the number of streams, real servers' are not quite.
	Gated  bool `json:"gated"`
	Within bool `json:"within"`
}

// Ratio is sim/real.
func (r Row) Ratio() float64 {
	if r.Real == 0 {
		return math.Inf(1)
	}
	return r.Sim / r.Real
}

// Comparison is real and simulated timing side by side.
type Comparison struct {
	Tolerance float64 `json:"tolerance"`
	Rows      []Row   `json:"rows"`
	Pass      bool    `json:"pass"` // every gated row within the tolerance
}

// Compare puts two measurements of the same request mix side by side.
func Compare(real, sim Timing, tolerance float64) Comparison {
	c := Comparison{Tolerance: tolerance, Pass: true}
	add := func(metric string, r, s float64, unit string, gated bool) {
		row := Row{Metric: metric, Real: r, Sim: s, Unit: unit, Gated: gated}
		row.Within = r > 0 && math.Abs(s/r-1) <= tolerance
		c.Pass = c.Pass && (!gated || row.Within)
		c.Rows = append(c.Rows, row)
	}
	add("cold load", ms(real.Load), ms(sim.Load), "ms", false)
	levels := real.Levels()
	for i, n := range levels {
		gated := i == 0 || i == len(levels)-1
		add(fmt.Sprintf("TTFT, %d stream(s)", n), ms(real.TTFT[n]), ms(sim.TTFT[n]), "ms", gated)
		add(fmt.Sprintf("tokens/s per stream, %d", n), real.PerStream[n], sim.PerStream[n], "tok/s", gated)
		add(fmt.Sprintf("tokens/s total, %d", n), real.Aggregate[n], sim.Aggregate[n], "tok/s", false)
	}
	return c
}

// Worst is the largest relative difference of a gated row.
func (c Comparison) Worst() float64 {
	w := 0.0
	for _, r := range c.Rows {
		if r.Gated {
			w = max(w, math.Abs(r.Ratio()-1))
		}
	}
	return w
}

// Table renders the comparison as a Markdown table.
func (c Comparison) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "| metric | real | sim | sim/real | within ±%.0f %% |\n|---|---:|---:|---:|---|\n", c.Tolerance*100)
	for _, r := range c.Rows {
		verdict := "–"
		switch {
		case r.Gated && r.Within:
			verdict = "yes"
		case r.Gated:
			verdict = "**no**"
		case r.Within:
			verdict = "(yes)"
		default:
			verdict = "(no)"
		}
		fmt.Fprintf(&b, "| %s | %.1f %s | %.1f %s | %.2f× | %s |\n", r.Metric, r.Real, r.Unit, r.Sim, r.Unit, r.Ratio(), verdict)
	}
	return b.String()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

package bench

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/dsbridge/dsbridge/scenarios"
)

// InstanceType is a row of the seed article's table of instance types
// (实例类型 · CPU核心 · 内存 · GPU · 并发上限).
type InstanceType struct {
	Name        string `json:"name"`
	NameZH      string `json:"name_zh"`
	CPU         int    `json:"cpu"`
	MemGB       int    `json:"mem_gb"`
	GPU         string `json:"gpu"`
	Concurrency int    `json:"concurrency"`
}

// SeedInstanceTypes returns the seed's table: light, standard, flagship.
func SeedInstanceTypes() []InstanceType {
	return []InstanceType{
		{"light", "轻量级", 2, 4, "-", 50},
		{"standard", "标准型", 4, 8, "1×V100", 200},
		{"flagship", "旗舰型", 8, 16, "2×A100", 500},
	}
}

// Plan is the capacity plan: what one instance sustains at the SLO, and how
// many are needed for a target with one spare (N+1: losing any one instance
// still leaves enough).
type Plan struct {
	Scenario  string  `json:"scenario"`
	TargetQPS float64 `json:"target_qps"`
	P99Ms     float64 `json:"p99_ms"`
	ErrorRate float64 `json:"error_rate"`
	Knee      Knee    `json:"knee"`
	// Measured topology of the ramp.
	Sims    int `json:"sims"`
	Bridges int `json:"bridges"`
	// PerSimQPS: the busiest sim's share of the knee (so an uneven spread
	// does not overstate it); PerBridgeQPS: the knee over the bridges.
	PerSimQPS     float64 `json:"per_sim_qps"`
	PerBridgeQPS  float64 `json:"per_bridge_qps"`
	SimsNeeded    int     `json:"sims_needed"`
	BridgesNeeded int     `json:"bridges_needed"`
	// ServiceMs is the per-request time used for Little's law.
	ServiceMs float64   `json:"service_ms"`
	Rows      []PlanRow `json:"instance_types"`
	Notes     []string  `json:"notes"`
}

// PlanRow is one instance type with what it sustains and how many are
// needed.
type PlanRow struct {
	InstanceType
	// QPS per instance by Little's law: concurrency ÷ ServiceMs.
	QPS       float64 `json:"qps_per_instance"`
	Instances int     `json:"instances_n_plus_1"`
}

// nPlus1 is the count for target at perInstance each, plus one spare.
func nPlus1(target, perInstance float64) int {
	if perInstance <= 0 {
		return 0
	}
	return int(math.Ceil(target/perInstance-1e-9)) + 1
}

// MakePlan derives a plan from a ramp result. p99Ms (0: the run's SLO)
// re-runs the knee search at that SLO on the stored timeline, so one ramp
// answers for several SLOs. serviceMs is the mean time a request holds a
// slot on a real instance, for the instance-type rows (0: the run's mean
// latency at the knee, which with instant simulators is the bridge's, not a
// model's).
func MakePlan(r *Results, targetQPS, p99Ms, serviceMs float64) (*Plan, error) {
	if targetQPS <= 0 {
		return nil, errors.New("plan: --target-qps must be > 0")
	}
	slo := r.SLO
	if p99Ms > 0 {
		slo.P99Ms = p99Ms
	}
	if slo.P99Ms == 0 {
		slo.P99Ms = scenarios.DefaultSLOP99Ms
	}
	if slo.ErrorRate == 0 {
		slo.ErrorRate = scenarios.DefaultSLOErrorRate
	}
	knee, err := FindKnee(r.Timeline, slo)
	if err != nil {
		return nil, fmt.Errorf("plan: %s: %w", r.Scenario, err)
	}
	if knee.QPS <= 0 {
		return nil, fmt.Errorf("plan: %s: no load met the SLO (P99 ≤ %.0f ms, errors ≤ %.2f%%) at all", r.Scenario, slo.P99Ms, 100*slo.ErrorRate)
	}
	p := &Plan{Scenario: r.Scenario, TargetQPS: targetQPS, P99Ms: slo.P99Ms, ErrorRate: slo.ErrorRate, Knee: *knee,
		Sims: max(r.Topology.Sims, 1), Bridges: max(r.Topology.Bridges, 1)}
	maxShare := 1 / float64(p.Sims)
	for _, u := range r.Upstreams {
		maxShare = math.Max(maxShare, u.Share)
	}
	p.PerSimQPS = knee.QPS * maxShare
	p.PerBridgeQPS = knee.QPS / float64(p.Bridges)
	p.SimsNeeded = nPlus1(targetQPS, p.PerSimQPS)
	p.BridgesNeeded = nPlus1(targetQPS, p.PerBridgeQPS)
	p.ServiceMs = knee.MeanLatencyMs
	if serviceMs > 0 {
		p.ServiceMs = serviceMs
	}
	w := p.ServiceMs / 1000
	for _, it := range SeedInstanceTypes() {
		row := PlanRow{InstanceType: it}
		if w > 0 {
			row.QPS = float64(it.Concurrency) / w
			row.Instances = nPlus1(targetQPS, row.QPS)
		}
		p.Rows = append(p.Rows, row)
	}
	if !knee.Reached {
		p.Notes = append(p.Notes, fmt.Sprintf("The SLO held to the end of the ramp (%.0f req/s requested): per-instance figures are lower bounds; ramp higher for the real knee.", knee.RequestedQPS))
	} else {
		p.Notes = append(p.Notes, fmt.Sprintf("The knee: from t=%.0fs, %s for 3 s in a row.", knee.AtS, knee.Reason))
	}
	p.Notes = append(p.Notes,
		"One bottleneck sets the knee: per-sim and per-bridge figures are each at most what that component sustains (whichever saturated first limits both).",
		fmt.Sprintf("Instance types: req/s = concurrency cap ÷ %.1f ms per request (Little's law). That time is the run's mean latency at the knee unless --service-ms gave a real model's; with instant simulators it is the bridge's own, and the rows are only as real as that number.", p.ServiceMs),
		"All processes shared one machine with the load generator; on dedicated hosts each component sustains more.")
	return p, nil
}

// WriteMarkdown writes the plan as a markdown section.
func (p *Plan) WriteMarkdown(w io.Writer) {
	fmt.Fprintf(w, "## Capacity plan\n\n")
	fmt.Fprintf(w, "From `%s`: target **%.0f req/s** at P99 ≤ %.0f ms and errors ≤ %.2f%%, N+1 (any one instance may fail).\n\n",
		p.Scenario, p.TargetQPS, p.P99Ms, 100*p.ErrorRate)
	fmt.Fprintf(w, "Knee: **%.1f req/s** sustained (requested %.1f, P99 %.1f ms, mean latency %.1f ms) with %d sim(s) and %d bridge(s).\n\n",
		p.Knee.QPS, p.Knee.RequestedQPS, p.Knee.P99Ms, p.Knee.MeanLatencyMs, p.Sims, p.Bridges)
	fmt.Fprintf(w, "| component | sustainable req/s per instance | instances for %.0f req/s (N+1) |\n|---|---:|---:|\n", p.TargetQPS)
	fmt.Fprintf(w, "| Ollama instance (simulated, this run) | %.1f | %d |\n", p.PerSimQPS, p.SimsNeeded)
	fmt.Fprintf(w, "| bridge (`dsbridge serve`) | %.1f | %d |\n\n", p.PerBridgeQPS, p.BridgesNeeded)
	fmt.Fprintf(w, "| 实例类型 / instance type | CPU核心 | 内存(GB) | GPU | 并发上限 / concurrency | req/s per instance | instances (N+1) |\n|---|---:|---:|---|---:|---:|---:|\n")
	for _, r := range p.Rows {
		fmt.Fprintf(w, "| %s %s | %d | %d | %s | %d | %.1f | %d |\n", r.NameZH, r.Name, r.CPU, r.MemGB, r.GPU, r.Concurrency, r.QPS, r.Instances)
	}
	fmt.Fprintln(w)
	for _, n := range p.Notes {
		fmt.Fprintf(w, "- %s\n", n)
	}
	fmt.Fprintln(w)
}

// String is the markdown form.
func (p *Plan) String() string {
	var b strings.Builder
	p.WriteMarkdown(&b)
	return b.String()
}

package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dsbridge/dsbridge/scenarios"
)

// SchemaVersion names the results.json format; DESIGN.md fixes its required
// keys, everything else is additive.
const SchemaVersion = "dsbridge.results/v1"

// Results is results.json: DESIGN.md's required keys (schema, scenario,
// duration_s, requests, latency_ms, ttft_ms, itl_ms, gates, pass) plus the
// timeline, chaos events, traffic share per upstream, scraped counters, the
// knee and the capacity plan. Milliseconds and seconds throughout.
type Results struct {
	Schema      string    `json:"schema"`
	Scenario    string    `json:"scenario"`
	Description string    `json:"description,omitempty"`
	StartedAt   time.Time `json:"started_at"`
	DurationS   float64   `json:"duration_s"`
	Requests    Requests  `json:"requests"`
	LatencyMs   Dist      `json:"latency_ms"`
	TTFTMs      Dist      `json:"ttft_ms"`
	ITLMs       Dist      `json:"itl_ms"`
	// TokensPerSecond is output speed per request after its first token.
	TokensPerSecond Dist             `json:"tokens_per_second"`
	Errors          map[string]int64 `json:"errors"`
	Gates           []GateResult     `json:"gates"`
	Pass            bool             `json:"pass"`
	// Error is set when the run itself broke (exit 2).
	Error     string          `json:"error,omitempty"`
	Timeline  []TimelinePoint `json:"timeline"`
	Chaos     []ChaosEvent    `json:"chaos_events"`
	Upstreams []UpstreamShare `json:"upstreams"`
	// Failovers is the bridges' bridge_failovers_total increase.
	Failovers float64 `json:"failovers"`
	// Scraped is, per member, each kept counter's increase over the run and
	// each gauge's last value.
	Scraped      map[string]map[string]float64 `json:"scraped,omitempty"`
	ScrapeErrors map[string]int                `json:"scrape_errors,omitempty"`
	Topology     TopologyInfo                  `json:"topology"`
	SLO          scenarios.SLO                 `json:"slo"`
	Driver       DriverStats                   `json:"load_driver"`
	Machine      Machine                       `json:"machine"`
	Knee         *Knee                         `json:"knee,omitempty"`
	Plan         *Plan                         `json:"capacity_plan,omitempty"`
	// Prometheus is set when a real Prometheus watched the run.
	Prometheus *PrometheusRun `json:"prometheus,omitempty"`
}

// Requests counts the run's requests; rates are per second.
type Requests struct {
	Total         int64   `json:"total"`
	Failed        int64   `json:"failed"`
	RateRequested float64 `json:"rate_requested"`
	RateAchieved  float64 `json:"rate_achieved"`
	ErrorRate     float64 `json:"error_rate"`
	Tokens        int64   `json:"tokens"`
}

// Dist is a distribution's summary.
type Dist struct {
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	Max   float64 `json:"max"`
	Min   float64 `json:"min"`
	Avg   float64 `json:"avg"`
	Count int64   `json:"count"`
}

// TimelinePoint is one second (by intended send time).
type TimelinePoint struct {
	WindowStats
	RateRequested float64 `json:"rate_requested"`
}

// ChaosEvent is one injected fault as it happened.
type ChaosEvent struct {
	AtS         float64  `json:"at_s"`
	Action      string   `json:"action"`
	Target      string   `json:"target"`
	Targets     []string `json:"targets"`
	Description string   `json:"description,omitempty"`
	// DoneS is when Inject returned (a rolling restart takes a while).
	DoneS     float64 `json:"done_s"`
	RevertedS float64 `json:"reverted_s,omitempty"`
	Error     string  `json:"error,omitempty"`
	// FailoverTimeMs: from the injection until the last request it hurt
	// ended (see FailoverTime and README, "Reading the report").
	FailoverTimeMs float64 `json:"failover_time_ms"`
}

// UpstreamShare is one simulator's part of the traffic.
type UpstreamShare struct {
	Name     string  `json:"name"`
	Requests float64 `json:"requests"`
	Share    float64 `json:"share"`
	// Source says which metric it came from.
	Source string `json:"source"`
}

// Machine says how busy the machine was: everything of a local run shares
// its cores, so a high load average explains noise in the figures.
type Machine struct {
	NumCPU       int     `json:"num_cpu"`
	LoadAvgStart float64 `json:"loadavg_1m_start"`
	LoadAvgEnd   float64 `json:"loadavg_1m_end"`
}

// loadAvg1 reads the 1-minute load average (0 where /proc has none).
func loadAvg1() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var v float64
	_, _ = fmt.Sscanf(string(b), "%f", &v)
	return v
}

// TopologyInfo records what ran.
type TopologyInfo struct {
	Sims    int    `json:"sims"`
	Bridges int    `json:"bridges"`
	LB      string `json:"lb"`
	Network bool   `json:"network"`
	Profile string `json:"profile"`
	// Runtime is local (processes) or docker (containers); Ollamas counts
	// real Ollama containers besides the sims.
	Runtime string `json:"runtime,omitempty"`
	Ollamas int    `json:"ollamas,omitempty"`
}

// WriteJSON writes results.json into dir.
func (r *Results) WriteJSON(dir string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "results.json"), append(b, '\n'), 0o644)
}

// ReadResults reads a results.json.
func ReadResults(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Results
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if r.Schema != SchemaVersion {
		return nil, fmt.Errorf("%s: schema %q, want %q", path, r.Schema, SchemaVersion)
	}
	return &r, nil
}

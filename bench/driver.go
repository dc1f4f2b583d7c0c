package bench

import (
	"context"
	"time"

	"github.com/dsbridge/dsbridge/scenarios"
)

// Sample is one finished request as the runner records it. Times are offsets
// from the start of the load, and latency is measured from the intended send
// time (open model: no coordinated omission).
type Sample struct {
	Intended time.Duration // when the request was due
	Latency  time.Duration // intended send → last byte (or error)
	TTFT     time.Duration // intended send → first token; 0 when none
	ITL      time.Duration // mean gap between tokens; 0 with < 2 tokens
	Tokens   int
	Status   int
	// Err is the error kind ("" on success): "connect", "timeout",
	// "status_5xx", "stream_error", "cut", …
	Err string
}

// LoadPlan is what the runner asks a driver to send.
type LoadPlan struct {
	// Start is the run's clock: Sample.Intended is measured from it.
	Start   time.Time
	Targets []string // base URLs; a driver spreads requests over them
	Load    scenarios.LoadSpec
	Seed    int64
	// Models the sims serve, for mix entries that name none.
	DefaultModel string
}

// Driver sends a plan's load and reports every finished request to record.
// record is called from many goroutines. Run returns when the last request
// has finished or ctx ends; err is for a driver that could not run at all.
type Driver interface {
	Run(ctx context.Context, plan LoadPlan, record func(Sample)) (DriverStats, error)
}

// DriverStats is what a driver knows about itself: how many requests it
// meant to send and sent, so the report can tell a generator that could not
// keep up from a slow system.
type DriverStats struct {
	Name      string  `json:"name"`
	Scheduled int64   `json:"scheduled"`
	Sent      int64   `json:"sent"`
	Dropped   int64   `json:"dropped"` // arrivals never sent (generator overloaded)
	Late      int64   `json:"late"`    // sent later than the generator's lateness bound
	MaxLagMs  float64 `json:"max_lag_ms"`
	// CPUCores is how many cores the generator kept busy: near the
	// machine's count, the generator was the limit.
	CPUCores float64 `json:"cpu_cores"`
	Shards   int     `json:"shards"`
}

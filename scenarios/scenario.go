// Package scenarios holds the declarative bench scenarios (YAML files embedded
// in the binary, so `dsbridge bench --scenario smoke` works from anywhere) and
// the Go types that parse and validate them. schema.json documents the same
// format as a JSON Schema, for editors and for people; README "Scenarios" walks
// through it field by field.
package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Scenario is one bench run: what to start, what load to send, what to break
// and when, and which gates decide pass or fail.
type Scenario struct {
	Name        string   `yaml:"name" json:"name"`
	Description string   `yaml:"description,omitempty" json:"description,omitempty"`
	Seed        int64    `yaml:"seed,omitempty" json:"seed,omitempty"`
	Topology    Topology `yaml:"topology" json:"topology"`
	Load        LoadSpec `yaml:"load" json:"load"`
	Chaos       []Event  `yaml:"chaos,omitempty" json:"chaos,omitempty"`
	// Gates maps a metric name to k6-style thresholds over it, e.g.
	// http_req_duration: ["p(99)<500"].
	Gates map[string][]string `yaml:"gates,omitempty" json:"gates,omitempty"`
	// SLO is what "sustainable" means for the knee search and the capacity
	// plan; zero fields take the seed article's targets (P99 500 ms, 1 %).
	SLO SLO `yaml:"slo,omitempty" json:"slo,omitempty"`
	// Observability says what watches the run besides the load generator.
	Observability Observability `yaml:"observability,omitempty" json:"observability,omitempty"`
}

// Observability: off by default, so that `make bench` needs nothing beyond
// the dsbridge binary.
type Observability struct {
	// Prometheus starts Debian's prometheus scraping every bridge and sim
	// with dsbridge's rules, and checks each gate's PromQL against it at
	// the end (same as `dsbridge bench --prometheus`).
	Prometheus bool `yaml:"prometheus,omitempty" json:"prometheus,omitempty"`
}

// Topology is the cluster the runner starts on loopback.
type Topology struct {
	Sims    Sims    `yaml:"sims" json:"sims"`
	Bridges Bridges `yaml:"bridges" json:"bridges"`
	// LB puts a load balancer in front of the bridges: "" or "none" (load
	// goes straight to the bridges, round-robin by the load generator) or
	// "nginx" (Debian's nginx-light, started with a generated config).
	LB string `yaml:"lb,omitempty" json:"lb,omitempty"`
	// LBFailTimeout is nginx's fail_timeout for each bridge (max_fails=2):
	// how long a bridge that refused twice stays out. Default 2s. The seed's
	// 30s turns a rolling restart faster than 30 s into a full outage: every
	// bridge is marked down in turn (see README, "Chaos").
	LBFailTimeout Duration `yaml:"lb_fail_timeout,omitempty" json:"lb_fail_timeout,omitempty"`
	// Network puts an embedded Toxiproxy between the bridges and every sim,
	// so that `network` chaos events have something to act on.
	Network bool `yaml:"network,omitempty" json:"network,omitempty"`
	// Runtime is where the cluster runs: "local" (processes on loopback,
	// the default) or "docker" (containers; dsbridge bench --runtime
	// overrides it).
	Runtime string `yaml:"runtime,omitempty" json:"runtime,omitempty"`
	// Ollamas are real Ollama containers (runtime docker only), upstreams
	// of every bridge besides the sims, serving the generated model "tiny".
	Ollamas Ollamas `yaml:"ollamas,omitempty" json:"ollamas,omitempty"`
}

// Ollamas describes the real Ollama containers: ollama-1..N.
type Ollamas struct {
	Count int `yaml:"count" json:"count"`
}

// Sims describes the simulated Ollama instances: Count copies of one shape.
type Sims struct {
	Count    int      `yaml:"count" json:"count"`
	Profile  string   `yaml:"profile,omitempty" json:"profile,omitempty"`
	Models   []string `yaml:"models,omitempty" json:"models,omitempty"`
	Parallel int      `yaml:"parallel,omitempty" json:"parallel,omitempty"`
	MaxQueue int      `yaml:"max_queue,omitempty" json:"max_queue,omitempty"`
	// Args are extra flags for every `dsbridge sim`.
	Args []string `yaml:"args,omitempty" json:"args,omitempty"`
}

// Bridges describes the `dsbridge serve` instances, all with every sim as
// upstream.
type Bridges struct {
	Count int `yaml:"count" json:"count"`
	// Config is an inline YAML config file for every bridge (optional).
	Config string   `yaml:"config,omitempty" json:"config,omitempty"`
	Args   []string `yaml:"args,omitempty" json:"args,omitempty"`
}

// LoadSpec is the traffic: open-model stages (the default) or a closed model.
type LoadSpec struct {
	// Model is "open" (arrivals fixed in advance, the default) or "closed"
	// (Users concurrent users, each waiting for its answer).
	Model string `yaml:"model,omitempty" json:"model,omitempty"`
	// Arrival is "constant" (the default) or "poisson".
	Arrival string  `yaml:"arrival,omitempty" json:"arrival,omitempty"`
	Stages  []Stage `yaml:"stages" json:"stages"`
	Users   int     `yaml:"users,omitempty" json:"users,omitempty"`
	Mix     []Mix   `yaml:"mix,omitempty" json:"mix,omitempty"`
	// Timeout bounds one request (default 30s).
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
}

// Stage is a span of constant rate, or a linear ramp from Rate to Target.
type Stage struct {
	Duration Duration `yaml:"duration" json:"duration"`
	Rate     float64  `yaml:"rate" json:"rate"`
	Target   float64  `yaml:"target,omitempty" json:"target,omitempty"`
}

// Mix is one kind of request and its share of the traffic.
type Mix struct {
	Endpoint     string  `yaml:"endpoint,omitempty" json:"endpoint,omitempty"`
	Model        string  `yaml:"model,omitempty" json:"model,omitempty"`
	Stream       *bool   `yaml:"stream,omitempty" json:"stream,omitempty"`
	Weight       float64 `yaml:"weight,omitempty" json:"weight,omitempty"`
	PromptTokens int     `yaml:"prompt_tokens,omitempty" json:"prompt_tokens,omitempty"`
	MaxTokens    int     `yaml:"max_tokens,omitempty" json:"max_tokens,omitempty"`
}

// Event is one chaos action on the timeline.
type Event struct {
	At Duration `yaml:"at" json:"at"`
	// Action names an injector: kill, pause, sim_fault, network,
	// rolling_restart.
	Action string `yaml:"action" json:"action"`
	// Target is a process name (sim-1, bridge-2), a group (sims, bridges) or
	// "random-sim" / "random-bridge" (picked with the scenario's seed).
	Target string `yaml:"target,omitempty" json:"target,omitempty"`
	// RestartAfter (kill) restarts the process after this long; zero leaves
	// it dead.
	RestartAfter Duration `yaml:"restart_after,omitempty" json:"restart_after,omitempty"`
	// Duration (pause, sim_fault, network) reverts the fault after this long;
	// zero keeps it until the run ends.
	Duration Duration `yaml:"duration,omitempty" json:"duration,omitempty"`
	// Interval (rolling_restart) is the pause between two bridges.
	Interval Duration `yaml:"interval,omitempty" json:"interval,omitempty"`
	// Grace (stop, rolling_restart) bounds the graceful stop before SIGKILL
	// (default 10s).
	Grace Duration `yaml:"grace,omitempty" json:"grace,omitempty"`
	// MemoryMB (oom) is how far above its current use the container's
	// memory limit is set before the request that overflows it (default 8).
	MemoryMB int `yaml:"memory_mb,omitempty" json:"memory_mb,omitempty"`
	// CPUs (cpu_limit) is the CPU quota, in CPUs.
	CPUs float64 `yaml:"cpus,omitempty" json:"cpus,omitempty"`
	// Fault (sim_fault) is one entry of the simulator's POST /sim/faults.
	Fault map[string]any `yaml:"fault,omitempty" json:"fault,omitempty"`
	// Toxic (network) is a Toxiproxy toxic.
	Toxic *Toxic `yaml:"toxic,omitempty" json:"toxic,omitempty"`
}

// Toxic is a Toxiproxy toxic: type latency, bandwidth, timeout, reset_peer,
// limit_data, slow_close or slicer, with its attributes.
type Toxic struct {
	Type       string         `yaml:"type" json:"type"`
	Stream     string         `yaml:"stream,omitempty" json:"stream,omitempty"`
	Toxicity   float32        `yaml:"toxicity,omitempty" json:"toxicity,omitempty"`
	Attributes map[string]any `yaml:"attributes,omitempty" json:"attributes,omitempty"`
}

// SLO is the service-level objective used by the knee search and the plan.
type SLO struct {
	P99Ms     float64 `yaml:"p99_ms,omitempty" json:"p99_ms,omitempty"`
	ErrorRate float64 `yaml:"error_rate,omitempty" json:"error_rate,omitempty"`
}

// Defaults for fields left out.
const (
	DefaultSLOP99Ms     = 500
	DefaultSLOErrorRate = 0.01
	DefaultTimeout      = 30 * time.Second
)

// Parse reads one scenario from YAML, rejecting unknown fields (a typo in a
// gate or an event must not silently vanish), fills defaults and validates.
func Parse(data []byte) (*Scenario, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var s Scenario
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	s.fill()
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

func (s *Scenario) fill() {
	if s.Topology.Sims.Profile == "" {
		s.Topology.Sims.Profile = "instant"
	}
	if s.Topology.Bridges.Count == 0 {
		s.Topology.Bridges.Count = 1
	}
	if s.Topology.LBFailTimeout == 0 {
		s.Topology.LBFailTimeout = Duration(2 * time.Second)
	}
	if s.Load.Model == "" {
		s.Load.Model = "open"
	}
	if s.Load.Arrival == "" {
		s.Load.Arrival = "constant"
	}
	if s.Load.Timeout == 0 {
		s.Load.Timeout = Duration(DefaultTimeout)
	}
	if s.SLO.P99Ms == 0 {
		s.SLO.P99Ms = DefaultSLOP99Ms
	}
	if s.SLO.ErrorRate == 0 {
		s.SLO.ErrorRate = DefaultSLOErrorRate
	}
	if s.Seed == 0 {
		s.Seed = 1
	}
}

// Actions the runner knows; the chaos package has one injector per action.
var knownActions = []string{"kill", "pause", "stop", "sim_fault", "network", "rolling_restart",
	"container_pause", "partition", "cpu_limit", "oom"}

// ContainerActions need a cluster of containers (runtime docker).
var ContainerActions = []string{"container_pause", "partition", "cpu_limit", "oom"}

// Validate reports every problem it finds, joined, so a scenario author fixes
// them in one pass.
func (s *Scenario) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if s.Name == "" {
		bad("name: required")
	}
	if s.Topology.Sims.Count < 0 || s.Topology.Sims.Count+s.Topology.Ollamas.Count < 1 {
		bad("topology.sims.count: need at least 1 upstream (sims, or ollamas with runtime docker), got %d", s.Topology.Sims.Count)
	}
	if s.Topology.Bridges.Count < 1 {
		bad("topology.bridges.count: need at least 1, got %d", s.Topology.Bridges.Count)
	}
	switch s.Topology.LB {
	case "", "none", "nginx":
	default:
		bad("topology.lb: %q is not one of none, nginx", s.Topology.LB)
	}
	switch s.Topology.Runtime {
	case "", "local", "docker":
	default:
		bad("topology.runtime: %q is not one of local, docker", s.Topology.Runtime)
	}
	if s.Topology.Ollamas.Count < 0 {
		bad("topology.ollamas.count: must be >= 0")
	}
	switch s.Load.Model {
	case "open":
		if len(s.Load.Stages) == 0 {
			bad("load.stages: at least one stage is required")
		}
	case "closed":
		if s.Load.Users < 1 {
			bad("load.users: closed model needs users >= 1")
		}
		if len(s.Load.Stages) == 0 {
			bad("load.stages: give one stage whose duration is the run's length")
		}
	default:
		bad("load.model: %q is not open or closed", s.Load.Model)
	}
	switch s.Load.Arrival {
	case "constant", "poisson":
	default:
		bad("load.arrival: %q is not constant or poisson", s.Load.Arrival)
	}
	for i, st := range s.Load.Stages {
		if st.Duration <= 0 {
			bad("load.stages[%d].duration: must be > 0", i)
		}
		if st.Rate < 0 || st.Target < 0 {
			bad("load.stages[%d]: rates must be >= 0", i)
		}
	}
	for i, m := range s.Load.Mix {
		if m.Weight < 0 {
			bad("load.mix[%d].weight: must be >= 0", i)
		}
		if m.Endpoint != "" && !strings.HasPrefix(m.Endpoint, "/") {
			bad("load.mix[%d].endpoint: %q must start with /", i, m.Endpoint)
		}
	}
	total := s.Duration()
	for i, e := range s.Chaos {
		known := false
		for _, a := range knownActions {
			known = known || a == e.Action
		}
		if !known {
			bad("chaos[%d].action: %q is not one of %s", i, e.Action, strings.Join(knownActions, ", "))
		}
		if e.At < 0 || e.At.D() > total {
			bad("chaos[%d].at: %v is outside the run (0..%v)", i, e.At.D(), total)
		}
		if e.Action != "rolling_restart" && e.Target == "" {
			bad("chaos[%d].target: required for %s", i, e.Action)
		}
		if e.Action == "sim_fault" && len(e.Fault) == 0 {
			bad("chaos[%d].fault: required for sim_fault", i)
		}
		if e.Action == "network" && (e.Toxic == nil || e.Toxic.Type == "") {
			bad("chaos[%d].toxic.type: required for network", i)
		}
		if e.Action == "cpu_limit" && e.CPUs <= 0 {
			bad("chaos[%d].cpus: required (> 0) for cpu_limit", i)
		}
		if e.MemoryMB < 0 {
			bad("chaos[%d].memory_mb: must be >= 0", i)
		}
		if e.Action == "network" && !s.Topology.Network {
			bad("chaos[%d]: network faults need topology.network: true", i)
		}
	}
	for metric, ths := range s.Gates {
		if len(ths) == 0 {
			bad("gates.%s: no thresholds", metric)
		}
	}
	if s.SLO.ErrorRate < 0 || s.SLO.ErrorRate >= 1 {
		bad("slo.error_rate: %v must be in [0,1)", s.SLO.ErrorRate)
	}
	if len(errs) > 0 {
		return fmt.Errorf("scenario %q: %w", s.Name, errors.Join(errs...))
	}
	return nil
}

// Duration is the length of the run: the sum of the load stages.
func (s *Scenario) Duration() time.Duration {
	var d time.Duration
	for _, st := range s.Load.Stages {
		d += st.Duration.D()
	}
	return d
}

// PeakRate is the highest requested rate of any stage.
func (s *Scenario) PeakRate() float64 {
	var r float64
	for _, st := range s.Load.Stages {
		r = max(r, st.Rate, st.Target)
	}
	return r
}

// RateAt is the requested arrival rate t into the run (0 past the end).
func (s *Scenario) RateAt(t time.Duration) float64 {
	for _, st := range s.Load.Stages {
		d := st.Duration.D()
		if t < d {
			if !st.ramps() {
				return st.Rate
			}
			return st.Rate + (st.Target-st.Rate)*float64(t)/float64(d)
		}
		t -= d
	}
	return 0
}

// ramps reports whether the stage ramps; a stage with target 0 holds its rate.
func (st Stage) ramps() bool { return st.Target != 0 && st.Target != st.Rate }

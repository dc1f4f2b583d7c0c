// Package chaos holds the fault injectors of the bench: each is a small config
// struct in its own file that implements Injector, built by name from the
// explicit Registry (no init(), no global state). The bench runner resolves a
// scenario's chaos event into targets, calls Inject at the event's time, and
// calls the returned Revert when the event's duration (or restart_after) is
// over, or when the run ends.
//
//	scenario event ──Registry[action](Spec, Deps)──▶ Injector
//	                                                   │ Inject(ctx, targets)
//	                                                   ▼
//	   process (signals) · sim admin API · Toxiproxy proxy · Docker container
//	                                                   │ Revert(ctx)
//	                                                   ▼
//	                                            back to normal
package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"syscall"
	"time"
)

// Injector applies one kind of fault.
type Injector interface {
	// Inject applies the fault to every target and returns how to undo it;
	// a nil Revert means there is nothing to undo (a rolling restart ends
	// by itself).
	Inject(ctx context.Context, targets []Target) (Revert, error)
}

// Revert undoes what an Inject did.
type Revert func(ctx context.Context) error

// Describer is an optional capability: a one-line description of what the
// injector does, for the report's event list.
type Describer interface {
	Describe() string
}

// Process is what the process injectors need from a running process; the
// bench's supervisor (internal/proc) implements it. Signals go to the
// process group.
type Process interface {
	Signal(sig syscall.Signal) error
	// Stop ends the process: SIGTERM, then SIGKILL after grace (0: at once).
	Stop(grace time.Duration) error
	// Start starts it again with the same command line and waits until ready.
	Start(ctx context.Context) error
	Running() bool
}

// Target is one member of the topology as an injector sees it. Fields an
// injector does not need may be empty.
type Target struct {
	Name string  // sim-1, bridge-2
	Kind string  // "sim" or "bridge"
	Proc Process // the running process
	// AdminURL is the simulator's base URL for its fault API (sims only).
	AdminURL string
	// Proxy is the Toxiproxy proxy in front of this upstream, "" when the
	// topology has no network layer.
	Proxy string
	// Container is set when the member runs in a container (see
	// container.go); nil for a local process.
	Container Container
}

// Spec carries an event's parameters to a Factory; each injector reads the
// fields that concern it.
type Spec struct {
	// Fault is one entry of the simulator's POST /sim/faults body.
	Fault map[string]any
	// Toxic is a Toxiproxy toxic.
	Toxic ToxicSpec
	// Interval is the pause between two processes of a rolling restart.
	Interval time.Duration
	// Grace bounds a graceful stop (SIGTERM before SIGKILL); default 10s.
	Grace time.Duration
	// MemoryBytes is the memory limit the oom action sets.
	MemoryBytes int64
	// CPUs is the CPU quota the cpu_limit action sets.
	CPUs float64
}

// ToxicSpec is a Toxiproxy toxic: type, stream, toxicity and attributes.
type ToxicSpec struct {
	Type       string
	Stream     string
	Toxicity   float32
	Attributes map[string]any
}

// Deps are what injectors share: the HTTP client for admin APIs, the
// embedded Toxiproxy (nil without a network layer) and the seeded source of
// randomness.
type Deps struct {
	HTTP    *http.Client
	Network *Network
	Rand    *rand.Rand
}

// Factory builds an injector from an event's parameters.
type Factory func(Spec, Deps) (Injector, error)

// Registry maps an action name to its factory. It is a function returning a
// fresh map, so that nothing can change it for everybody.
func Registry() map[string]Factory {
	return map[string]Factory{
		"kill":            newKill,
		"pause":           newPause,
		"sim_fault":       newSimFault,
		"network":         newNetworkFault,
		"rolling_restart": newRollingRestart,
		"stop":            newStop,
		// Containers only (dsbridge bench --runtime docker): docker.go.
		"container_pause": newContainerPause,
		"partition":       newPartition,
		"cpu_limit":       newCPULimit,
		"oom":             newOOM,
	}
}

// Actions lists the registry's names, sorted, for --help and errors.
func Actions() []string {
	var names []string
	for n := range Registry() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// New builds the injector for action.
func New(action string, spec Spec, deps Deps) (Injector, error) {
	f, ok := Registry()[action]
	if !ok {
		return nil, fmt.Errorf("chaos: no injector %q (have %v)", action, Actions())
	}
	if deps.HTTP == nil {
		deps.HTTP = &http.Client{Timeout: 5 * time.Second}
	}
	if deps.Rand == nil {
		deps.Rand = rand.New(rand.NewPCG(1, 1))
	}
	if spec.Grace == 0 {
		spec.Grace = 10 * time.Second
	}
	return f(spec, deps)
}

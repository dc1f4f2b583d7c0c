package ollamasim

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"
)

// FaultKind names a fault. The set is the chaos engineer's contract.
type FaultKind string

// The fault kinds; see README "Simulator faults".
const (
	FaultError               FaultKind = "error"                  // answer status/message instead
	FaultLatency             FaultKind = "latency"                // add delay before handling
	FaultHangBeforeFirstByte FaultKind = "hang_before_first_byte" // say nothing for duration (0: until the client leaves)
	FaultHangMidStream       FaultKind = "hang_mid_stream"        // pause duration after after_tokens tokens
	FaultCutStream           FaultKind = "cut_stream"             // close the connection after after_tokens tokens
	FaultErrorLine           FaultKind = "error_line"             // {"error":message} line under 200 after after_tokens
	FaultNoDone              FaultKind = "no_done"                // end the stream with no final done line
	FaultSlowLoad            FaultKind = "slow_load"              // model loads take delay longer
	FaultCrash               FaultKind = "crash"                  // the process exits with status
)

// Fault is one active fault. Probability 0 (or absent) means 1.
type Fault struct {
	Kind        FaultKind `json:"kind"`
	Probability *float64  `json:"probability,omitempty"`
	Models      []string  `json:"models,omitempty"`
	Paths       []string  `json:"paths,omitempty"`
	Status      int       `json:"status,omitempty"`
	Message     string    `json:"message,omitempty"`
	Delay       Duration  `json:"delay,omitempty"`
	Duration    Duration  `json:"duration,omitempty"`
	AfterTokens int       `json:"after_tokens,omitempty"`
}

func (f *Fault) validate() error {
	switch f.Kind {
	case FaultError:
		if f.Status == 0 {
			f.Status = http.StatusInternalServerError
		}
		if f.Status < 400 || f.Status > 599 {
			return fmt.Errorf("error fault: status %d is not an error status", f.Status)
		}
		if f.Message == "" {
			f.Message = "simulated fault"
		}
	case FaultLatency, FaultSlowLoad:
		if f.Delay < 0 {
			return fmt.Errorf("%s fault: negative delay", f.Kind)
		}
	case FaultHangBeforeFirstByte, FaultHangMidStream:
		if f.Duration < 0 {
			return fmt.Errorf("%s fault: negative duration", f.Kind)
		}
	case FaultErrorLine:
		if f.Message == "" {
			f.Message = "simulated mid-stream error"
		}
	case FaultCutStream, FaultNoDone:
	case FaultCrash:
		if f.Status == 0 {
			f.Status = 1
		}
	default:
		return fmt.Errorf("unknown fault kind %q (want error, latency, hang_before_first_byte, hang_mid_stream, cut_stream, error_line, no_done, slow_load, crash)", f.Kind)
	}
	if f.AfterTokens < 0 {
		return fmt.Errorf("%s fault: negative after_tokens", f.Kind)
	}
	if p := f.Probability; p != nil && (*p < 0 || *p > 1) {
		return fmt.Errorf("%s fault: probability %v not in [0,1]", f.Kind, *p)
	}
	for i, m := range f.Models {
		f.Models[i] = NormalizeName(m)
	}
	return nil
}

func (f *Fault) matches(path, model string) bool {
	if len(f.Paths) > 0 && !slices.Contains(f.Paths, path) {
		return false
	}
	if len(f.Models) > 0 && !slices.Contains(f.Models, model) {
		return false
	}
	return true
}

// faultSet is the active faults and the seeded dice that decide whether
// each fires.
type faultSet struct {
	mu     sync.Mutex
	faults []Fault
	rng    *rand.Rand
	fired  func(kind FaultKind)
}

func newFaultSet(seed uint64, fired func(FaultKind)) *faultSet {
	return &faultSet{rng: rand.New(rand.NewPCG(seed, seed^0xfa17)), fired: fired, faults: []Fault{}}
}

// replace swaps the active set (POST /sim/faults).
func (fs *faultSet) replace(faults []Fault) {
	fs.mu.Lock()
	fs.faults = faults
	fs.mu.Unlock()
}

func (fs *faultSet) list() []Fault {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return slices.Clone(fs.faults)
}

// roll returns the faults that fire for one request, in the set's order.
// The common no-fault case takes one lock and allocates nothing.
func (fs *faultSet) roll(path, model string, kinds ...FaultKind) []Fault {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if len(fs.faults) == 0 {
		return nil
	}
	var out []Fault
	for i := range fs.faults {
		f := &fs.faults[i]
		if len(kinds) > 0 && !slices.Contains(kinds, f.Kind) {
			continue
		}
		if len(kinds) == 0 && f.Kind == FaultSlowLoad {
			continue // slow_load is rolled per load, not per request
		}
		if !f.matches(path, model) {
			continue
		}
		if p := f.Probability; p != nil && *p < 1 && fs.rng.Float64() >= *p {
			continue
		}
		out = append(out, *f)
		if fs.fired != nil {
			fs.fired(f.Kind)
		}
	}
	return out
}

// plan is what fired for one request, by phase.
type plan struct {
	latency    time.Duration
	hangFirst  *time.Duration
	errorFault *Fault
	crash      *Fault
	hangMid    *Fault
	cut        *Fault
	errorLine  *Fault
	noDone     bool
}

func makePlan(fired []Fault) plan {
	var p plan
	for i := range fired {
		f := &fired[i]
		switch f.Kind {
		case FaultLatency:
			p.latency += f.Delay.D()
		case FaultHangBeforeFirstByte:
			d := f.Duration.D()
			p.hangFirst = &d
		case FaultError:
			if p.errorFault == nil {
				p.errorFault = f
			}
		case FaultCrash:
			p.crash = f
		case FaultHangMidStream:
			p.hangMid = f
		case FaultCutStream:
			p.cut = f
		case FaultErrorLine:
			p.errorLine = f
		case FaultNoDone:
			p.noDone = true
		}
	}
	return p
}

// serveFaults is the admin API: GET lists, POST replaces, DELETE clears.
func (s *Server) serveFaults(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodDelete:
		s.faults.replace([]Fault{})
	case http.MethodPost, http.MethodPut:
		var body struct {
			Faults []Fault `json:"faults"`
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil {
			writeJSONError(w, http.StatusBadRequest, "invalid fault set: "+err.Error())
			return
		}
		if body.Faults == nil {
			body.Faults = []Fault{}
		}
		for i := range body.Faults {
			if err := body.Faults[i].validate(); err != nil {
				writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("faults[%d]: %v", i, err))
				return
			}
		}
		s.faults.replace(body.Faults)
	default:
		w.Header().Set("Allow", "GET, POST, PUT, DELETE")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"faults": s.faults.list()})
}

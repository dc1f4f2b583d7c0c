package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// SimFault sets a fault on each simulator through its admin API
// (POST /sim/faults replaces the set; DELETE /sim/faults clears it): errors,
// latency, hangs before the first byte or mid-stream, cut streams, error
// lines under status 200, streams without done, slow model loads, crashes.
// Only a simulator can do these: they live above TCP, in Ollama's protocol.
type SimFault struct {
	Fault map[string]any
	http  *http.Client
}

func newSimFault(s Spec, d Deps) (Injector, error) {
	if len(s.Fault) == 0 {
		return nil, errors.New("sim_fault: no fault given")
	}
	if _, ok := s.Fault["kind"].(string); !ok {
		return nil, errors.New("sim_fault: fault.kind is required")
	}
	return &SimFault{Fault: s.Fault, http: d.HTTP}, nil
}

// Describe implements Describer.
func (f *SimFault) Describe() string {
	b, _ := json.Marshal(f.Fault)
	return "simulator fault " + string(b)
}

// Inject implements Injector.
func (f *SimFault) Inject(ctx context.Context, targets []Target) (Revert, error) {
	body, err := json.Marshal(map[string]any{"faults": []map[string]any{f.Fault}})
	if err != nil {
		return nil, err
	}
	var set []Target
	for _, t := range targets {
		if t.AdminURL == "" {
			return nil, fmt.Errorf("sim_fault %s: not a simulator", t.Name)
		}
		if err := f.call(ctx, http.MethodPost, t.AdminURL+"/sim/faults", body); err != nil {
			return nil, fmt.Errorf("sim_fault %s: %w", t.Name, err)
		}
		set = append(set, t)
	}
	return func(ctx context.Context) error {
		var errs []error
		for _, t := range set {
			if err := f.call(ctx, http.MethodDelete, t.AdminURL+"/sim/faults", nil); err != nil {
				errs = append(errs, fmt.Errorf("clear faults on %s: %w", t.Name, err))
			}
		}
		return errors.Join(errs...)
	}, nil
}

func (f *SimFault) call(ctx context.Context, method, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

package chaos

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Stop stops each target gracefully — SIGTERM, SIGKILL after Grace — as an
// operator or an orchestrator does (docker stop, systemctl stop): a bridge
// drains first. Revert starts it again. Works on processes and containers.
type Stop struct{ Grace time.Duration }

func newStop(s Spec, _ Deps) (Injector, error) { return Stop{Grace: s.Grace}, nil }

// Describe implements Describer.
func (s Stop) Describe() string {
	return fmt.Sprintf("SIGTERM, SIGKILL after %v (start on revert)", s.Grace)
}

// Inject implements Injector.
func (s Stop) Inject(_ context.Context, targets []Target) (Revert, error) {
	var stopped []Target
	for _, t := range targets {
		if t.Proc == nil {
			return nil, fmt.Errorf("stop %s: no process", t.Name)
		}
		if err := t.Proc.Stop(s.Grace); err != nil {
			return nil, fmt.Errorf("stop %s: %w", t.Name, err)
		}
		stopped = append(stopped, t)
	}
	return func(ctx context.Context) error {
		var errs []error
		for _, t := range stopped {
			if !t.Proc.Running() {
				if err := t.Proc.Start(ctx); err != nil {
					errs = append(errs, fmt.Errorf("start %s: %w", t.Name, err))
				}
			}
		}
		return errors.Join(errs...)
	}, nil
}

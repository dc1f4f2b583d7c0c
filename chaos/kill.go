package chaos

import (
	"context"
	"errors"
	"fmt"
)

// Kill SIGKILLs each target's process group: the crash of an Ollama server or
// a bridge, with no chance to drain. Its Revert starts the process again (the
// runner calls it after restart_after), so a kill with a restart is a crash
// followed by a supervisor bringing the server back.
type Kill struct{}

func newKill(Spec, Deps) (Injector, error) { return Kill{}, nil }

// Describe implements Describer.
func (Kill) Describe() string { return "SIGKILL the process group" }

// Inject implements Injector.
func (Kill) Inject(_ context.Context, targets []Target) (Revert, error) {
	var killed []Target
	for _, t := range targets {
		if t.Proc == nil {
			return nil, fmt.Errorf("kill %s: no process", t.Name)
		}
		// Stop(0) sends SIGKILL to the group and waits until it is gone, so
		// the fault is in place when Inject returns.
		if err := t.Proc.Stop(0); err != nil {
			return nil, fmt.Errorf("kill %s: %w", t.Name, err)
		}
		killed = append(killed, t)
	}
	return func(ctx context.Context) error {
		var errs []error
		for _, t := range killed {
			if t.Proc.Running() {
				continue
			}
			if err := t.Proc.Start(ctx); err != nil {
				errs = append(errs, fmt.Errorf("restart %s: %w", t.Name, err))
			}
		}
		return errors.Join(errs...)
	}, nil
}

package chaos

import (
	"context"
	"fmt"
	"time"
)

// RollingRestart restarts the targets one after the other, the way a rolling
// update does: SIGTERM (the bridge stops being ready and drains), wait until
// it exits (SIGKILL after Grace), start it again, wait until it is ready, then
// wait Interval before the next. With two or more bridges behind a load
// balancer, the seed's promise is zero downtime.
type RollingRestart struct {
	Interval time.Duration
	Grace    time.Duration
}

func newRollingRestart(s Spec, _ Deps) (Injector, error) {
	return RollingRestart{Interval: s.Interval, Grace: s.Grace}, nil
}

// Describe implements Describer.
func (r RollingRestart) Describe() string {
	return fmt.Sprintf("rolling restart: SIGTERM, wait, start, %v apart", r.Interval)
}

// Inject implements Injector; it returns when the last target is ready
// again, so the rolling restart itself takes time on the timeline.
func (r RollingRestart) Inject(ctx context.Context, targets []Target) (Revert, error) {
	for i, t := range targets {
		if t.Proc == nil {
			return nil, fmt.Errorf("rolling restart %s: no process", t.Name)
		}
		if i > 0 && r.Interval > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(r.Interval):
			}
		}
		// Stop sends SIGTERM and waits up to Grace for the drain.
		if err := t.Proc.Stop(r.Grace); err != nil {
			return nil, fmt.Errorf("rolling restart %s: stop: %w", t.Name, err)
		}
		if err := t.Proc.Start(ctx); err != nil {
			return nil, fmt.Errorf("rolling restart %s: start: %w", t.Name, err)
		}
	}
	return nil, nil
}

package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"time"
)

// The container injectors need a Target whose Container is set, that is a
// cluster started by `dsbridge bench --runtime docker` (package cluster).

// containers returns each target's Container, or says which has none.
func containers(action string, targets []Target) ([]Container, error) {
	out := make([]Container, len(targets))
	for i, t := range targets {
		if t.Container == nil {
			return nil, fmt.Errorf("%s %s: not a container (run with --runtime docker)", action, t.Name)
		}
		out[i] = t.Container
	}
	return out, nil
}

// ContainerPause freezes each target's container with the cgroup freezer
// (docker pause): every process stops at once, sockets stay open, nothing
// answers — a hang no signal handler can see. Revert thaws it.
type ContainerPause struct{}

func newContainerPause(Spec, Deps) (Injector, error) { return ContainerPause{}, nil }

// Describe implements Describer.
func (ContainerPause) Describe() string { return "docker pause (cgroup freezer; unpause on revert)" }

// Inject implements Injector.
func (ContainerPause) Inject(ctx context.Context, targets []Target) (Revert, error) {
	cs, err := containers("container_pause", targets)
	if err != nil {
		return nil, err
	}
	return applyAll(ctx, cs, targets, "pause", Container.Pause, Container.Unpause)
}

// Partition takes each target's container off the cluster network: packets
// to its address go nowhere, so connections hang until they time out, as
// with a pulled cable. Revert reconnects it at the same address and name.
type Partition struct{}

func newPartition(Spec, Deps) (Injector, error) { return Partition{}, nil }

// Describe implements Describer.
func (Partition) Describe() string {
	return "disconnect from the cluster network (reconnect on revert)"
}

// Inject implements Injector.
func (Partition) Inject(ctx context.Context, targets []Target) (Revert, error) {
	cs, err := containers("partition", targets)
	if err != nil {
		return nil, err
	}
	return applyAll(ctx, cs, targets, "disconnect", Container.Disconnect, Container.Reconnect)
}

// applyAll applies do to every container and returns the revert that
// undoes it on each; when one fails, those already done are undone.
func applyAll(ctx context.Context, cs []Container, targets []Target, what string, do, undo func(Container, context.Context) error) (Revert, error) {
	revert := func(done []Container) Revert {
		return func(ctx context.Context) error {
			var errs []error
			for i, c := range done {
				if err := undo(c, ctx); err != nil {
					errs = append(errs, fmt.Errorf("undo %s %s: %w", what, targets[i].Name, err))
				}
			}
			return errors.Join(errs...)
		}
	}
	for i, c := range cs {
		if err := do(c, ctx); err != nil {
			_ = revert(cs[:i])(ctx)
			return nil, fmt.Errorf("%s %s: %w", what, targets[i].Name, err)
		}
	}
	return revert(cs), nil
}

// CPULimit lowers each container's CPU quota (docker update --cpus) while
// it runs: a noisy neighbour or an undersized node. Revert lifts it to the
// machine's CPU count.
type CPULimit struct{ CPUs float64 }

func newCPULimit(s Spec, _ Deps) (Injector, error) {
	if s.CPUs <= 0 {
		return nil, errors.New("cpu_limit: cpus must be > 0")
	}
	return CPULimit{CPUs: s.CPUs}, nil
}

// Describe implements Describer.
func (c CPULimit) Describe() string { return fmt.Sprintf("docker update --cpus %g", c.CPUs) }

// Inject implements Injector.
func (c CPULimit) Inject(ctx context.Context, targets []Target) (Revert, error) {
	cs, err := containers("cpu_limit", targets)
	if err != nil {
		return nil, err
	}
	set := func(cpus float64) func(Container, context.Context) error {
		return func(ct Container, ctx context.Context) error { return ct.SetLimits(ctx, Limits{CPUs: cpus}) }
	}
	return applyAll(ctx, cs, targets, "cpu limit", set(c.CPUs), set(float64(runtime.NumCPU())))
}

// OOM lowers each container's memory limit to just above what it uses
// (MemoryBytes more; default 8 MiB) and sends the server a request whose
// body needs more than that, so the kernel's OOM killer ends it: an Ollama
// server handed a prompt larger than its box. (On cgroup v1 a limit below
// the current use is refused, hence "just above".) Inject returns once the
// container has exited OOM-killed, and fails if it did not within 30 s.
// Revert restores the limit it was created with and starts it again.
type OOM struct {
	Headroom int64
	HTTP     *http.Client
}

func newOOM(s Spec, d Deps) (Injector, error) {
	h := s.MemoryBytes
	if h == 0 {
		h = 8 << 20
	}
	return OOM{Headroom: h, HTTP: &http.Client{Timeout: 30 * time.Second}}, nil
}

// Describe implements Describer.
func (o OOM) Describe() string {
	return fmt.Sprintf("docker update --memory (use + %d MiB), then a request larger than that: OOM kill (limit restored and started on revert)", o.Headroom>>20)
}

// Inject implements Injector.
func (o OOM) Inject(ctx context.Context, targets []Target) (Revert, error) {
	cs, err := containers("oom", targets)
	if err != nil {
		return nil, err
	}
	var killed []int
	revert := func(ctx context.Context) error {
		var errs []error
		for _, i := range killed {
			if err := cs[i].SetLimits(ctx, cs[i].Limits()); err != nil {
				errs = append(errs, fmt.Errorf("restore limit %s: %w", targets[i].Name, err))
				continue
			}
			if targets[i].Proc != nil && !targets[i].Proc.Running() {
				if err := targets[i].Proc.Start(ctx); err != nil {
					errs = append(errs, fmt.Errorf("restart %s: %w", targets[i].Name, err))
				}
			}
		}
		return errors.Join(errs...)
	}
	for i, c := range cs {
		if targets[i].AdminURL == "" {
			return revert, fmt.Errorf("oom %s: no URL to send the request to (sims and Ollamas only)", targets[i].Name)
		}
		used, err := c.MemoryUsage(ctx)
		if err != nil {
			return revert, fmt.Errorf("oom %s: memory use: %w", targets[i].Name, err)
		}
		limit := used + o.Headroom
		if err := c.SetLimits(ctx, Limits{MemoryBytes: limit}); err != nil {
			return revert, fmt.Errorf("oom %s: lower limit to %d MiB: %w", targets[i].Name, limit>>20, err)
		}
		killed = append(killed, i)
		// Two requests at once, and two more every 3 s until the kill:
		// on a loaded machine one may be slow to arrive or be answered
		// before its body is all read.
		push := func() {
			for range 2 {
				go o.push(targets[i].AdminURL, 2*limit+(16<<20))
			}
		}
		if err := waitOOM(ctx, c, 30*time.Second, push); err != nil {
			return revert, fmt.Errorf("oom %s: %w", targets[i].Name, err)
		}
	}
	return revert, nil
}

// push sends one request with a prompt of n bytes; its answer does not
// matter (a simulator reads at most 64 MiB of it, still more than the limit).
func (o OOM) push(base string, n int64) {
	body := io.MultiReader(strings.NewReader(`{"model":"x","stream":false,"prompt":"`),
		io.LimitReader(repeatReader('a'), n), strings.NewReader(`"}`))
	resp, err := o.HTTP.Post(strings.TrimRight(base, "/")+"/api/generate", "application/json", body)
	if err == nil {
		resp.Body.Close()
	}
}

// repeatReader yields one byte forever.
type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

// waitOOM calls push at once and every 3 s until the container has
// stopped with the OOM flag set.
func waitOOM(ctx context.Context, c Container, limit time.Duration, push func()) error {
	deadline := time.Now().Add(limit)
	var pushed time.Time
	for {
		if time.Since(pushed) >= 3*time.Second {
			push()
			pushed = time.Now()
		}
		running, oom, err := c.State(ctx)
		if err != nil {
			return err
		}
		if !running {
			if !oom {
				return errors.New("exited, but not by the OOM killer")
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not OOM-killed within %v", limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

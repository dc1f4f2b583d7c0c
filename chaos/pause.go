package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Pause freezes each target with SIGSTOP: the kernel still accepts
// connections on its listening socket, but nothing answers: the hung server
// (a wedged runner, a GC pause, a stuck disk) that a dial error never
// reveals. Revert sends SIGCONT.
type Pause struct{}

func newPause(Spec, Deps) (Injector, error) { return Pause{}, nil }

// Describe implements Describer.
func (Pause) Describe() string { return "SIGSTOP the process group (SIGCONT on revert)" }

// Inject implements Injector.
func (Pause) Inject(_ context.Context, targets []Target) (Revert, error) {
	var paused []Target
	for _, t := range targets {
		if t.Proc == nil {
			return nil, fmt.Errorf("pause %s: no process", t.Name)
		}
		if err := t.Proc.Signal(syscall.SIGSTOP); err != nil {
			return nil, fmt.Errorf("pause %s: %w", t.Name, err)
		}
		paused = append(paused, t)
		waitStopped(t.Proc)
	}
	return func(context.Context) error {
		var errs []error
		for _, t := range paused {
			if err := t.Proc.Signal(syscall.SIGCONT); err != nil && t.Proc.Running() {
				errs = append(errs, fmt.Errorf("resume %s: %w", t.Name, err))
			}
		}
		return errors.Join(errs...)
	}, nil
}

// Pider is an optional capability of a Process: its pid, so that Pause can
// confirm the freeze.
type Pider interface{ Pid() int }

// waitStopped waits (up to a second) until the kernel shows the process as
// stopped. kill(2) returns before every thread of a busy multi-threaded
// process has stopped, and a request can still be answered in that gap; the
// fault must be in place when Inject returns.
func waitStopped(p Process) {
	pp, ok := p.(Pider)
	if !ok || pp.Pid() == 0 {
		return
	}
	path := "/proc/" + strconv.Itoa(pp.Pid()) + "/stat"
	for range 100 {
		b, err := os.ReadFile(path)
		if err != nil {
			return
		}
		// The state follows the command name in parentheses: "pid (comm) T …".
		if i := strings.LastIndexByte(string(b), ')'); i > 0 && i+2 < len(b) && (b[i+2] == 'T' || b[i+2] == 't') {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

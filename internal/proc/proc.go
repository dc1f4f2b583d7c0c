// Package proc supervises the local processes of a bench topology: each runs
// in its own process group (so a signal reaches its children too, and nothing
// survives a stop), can be signalled, stopped gently or hard, and started again
// with the same command line, which is what the chaos injectors need.
package proc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Spec is how to start a process and how to know it is ready.
type Spec struct {
	Name string
	Path string
	Args []string
	Env  []string // added to the environment
	// ReadyURL is polled with GET until it answers 200; "" means ready once
	// started.
	ReadyURL string
	// ReadyTimeout bounds that wait (default 20s).
	ReadyTimeout time.Duration
	// Log, when set, also receives the process's stdout and stderr; the
	// last 64 KiB are kept in memory either way, for error messages.
	Log *os.File
}

// Proc is one supervised process. Its methods are safe for concurrent use.
type Proc struct {
	spec Spec

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when the current incarnation exited
	exitErr error
	tail    *tailBuffer
	starts  int
}

// New returns a process that is not started yet.
func New(spec Spec) *Proc {
	if spec.ReadyTimeout == 0 {
		spec.ReadyTimeout = 20 * time.Second
	}
	return &Proc{spec: spec, tail: &tailBuffer{max: 64 << 10}}
}

// Name is the process's name in the topology (sim-1, bridge-2…).
func (p *Proc) Name() string { return p.spec.Name }

// Starts counts how many times the process was started.
func (p *Proc) Starts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.starts
}

// Pid is the current incarnation's pid (also its process group id), 0 when
// not running.
func (p *Proc) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil || p.exitedLocked() {
		return 0
	}
	return p.cmd.Process.Pid
}

func (p *Proc) exitedLocked() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Running reports whether the current incarnation has not exited.
func (p *Proc) Running() bool { return p.Pid() != 0 }

// Start starts the process (again, if it ran before and exited) and waits
// until it is ready or ctx ends.
func (p *Proc) Start(ctx context.Context) error {
	p.mu.Lock()
	if p.cmd != nil && !p.exitedLocked() {
		p.mu.Unlock()
		return fmt.Errorf("%s: already running", p.spec.Name)
	}
	cmd := exec.Command(p.spec.Path, p.spec.Args...)
	cmd.Env = append(os.Environ(), p.spec.Env...)
	// The tail is kept even with a log file, for error messages.
	var out io.Writer = p.tail
	if p.spec.Log != nil {
		out = io.MultiWriter(p.spec.Log, p.tail)
	}
	cmd.Stdout, cmd.Stderr = out, out
	// Own process group: a signal to -pid reaches the children too, and a
	// Ctrl-C on the terminal reaches only the runner, which then stops
	// everything in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		p.mu.Unlock()
		return fmt.Errorf("%s: %w", p.spec.Name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done, p.exitErr = cmd, done, nil
	p.starts++
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.exitErr = err
		p.mu.Unlock()
		close(done)
	}()
	return p.waitReady(ctx, done)
}

func (p *Proc) waitReady(ctx context.Context, done chan struct{}) error {
	if p.spec.ReadyURL == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, p.spec.ReadyTimeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.spec.ReadyURL, nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
		select {
		case <-done:
			return fmt.Errorf("%s exited before it was ready (%v): %s", p.spec.Name, p.exitError(), p.tail.String())
		case <-ctx.Done():
			return fmt.Errorf("%s not ready at %s within %v (last: %v): %s", p.spec.Name, p.spec.ReadyURL, p.spec.ReadyTimeout, last, p.tail.String())
		case <-tick.C:
		}
	}
}

func (p *Proc) exitError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exitErr
}

// Output returns the last 64 KiB of output.
func (p *Proc) Output() string { return p.tail.String() }

// Signal sends sig to the process group of the current incarnation.
func (p *Proc) Signal(sig syscall.Signal) error {
	pid := p.Pid()
	if pid == 0 {
		return fmt.Errorf("%s: not running", p.spec.Name)
	}
	return syscall.Kill(-pid, sig)
}

// Wait waits until the current incarnation exits or ctx ends.
func (p *Proc) Wait(ctx context.Context) error {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stop ends the process: SIGTERM (after SIGCONT, in case it is paused) and,
// if it has not exited after grace, SIGKILL to the whole group. grace 0 kills
// at once. It returns when the process has exited.
func (p *Proc) Stop(grace time.Duration) error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return nil
	}
	pgid := cmd.Process.Pid
	select {
	case <-done:
		// The leader is gone; its group may not be (a child it left).
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		return nil
	default:
	}
	// A stopped process cannot handle SIGTERM: wake it first.
	_ = syscall.Kill(-pgid, syscall.SIGCONT)
	if grace > 0 {
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-done:
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			return nil
		case <-t.C:
		}
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C:
		return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", p.spec.Name, pgid)
	}
}

// Restart stops the process (gently, within grace) and starts it again.
func (p *Proc) Restart(ctx context.Context, grace time.Duration) error {
	if err := p.Stop(grace); err != nil {
		return err
	}
	return p.Start(ctx)
}

// ErrNotRunning is returned by operations that need a live process.
var ErrNotRunning = errors.New("not running")

// tailBuffer keeps the last max bytes written.
type tailBuffer struct {
	mu  sync.Mutex
	b   bytes.Buffer
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b.Write(p)
	if over := t.b.Len() - t.max; over > 0 {
		t.b.Next(over)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.b.String()
}

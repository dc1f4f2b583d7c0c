// Package testproc runs the real dsbridge binary in tests: it builds it once
// per test process (or takes $DSBRIDGE_BIN, which the Makefile sets), starts
// subcommands on free loopback ports, waits until they answer, and stops them
// when the test ends. Tests import it; production code never does.
package testproc

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary returns the path of a dsbridge binary built from this checkout.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		if p := os.Getenv("DSBRIDGE_BIN"); p != "" {
			binPath, buildErr = filepath.Abs(p)
			return
		}
		dir, err := os.MkdirTemp("", "dsbridge-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "dsbridge")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/dsbridge")
		cmd.Dir = moduleRoot()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// moduleRoot finds the directory holding go.mod, from this source file.
func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// DeadAddr returns a loopback address where nothing listens: connecting to
// it fails at once with ECONNREFUSED.
func DeadAddr(t testing.TB) string { return FreeAddr(t) }

// Proc is a running dsbridge subcommand.
type Proc struct {
	Cmd    *exec.Cmd
	Addr   string // host:port it listens on
	URL    string // http://Addr
	output *syncBuffer
}

// Output returns what the process wrote to stdout and stderr so far.
func (p *Proc) Output() string { return p.output.String() }

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) error { return p.Cmd.Process.Signal(sig) }

// Wait waits for the process to exit and returns its exit code.
func (p *Proc) Wait(timeout time.Duration) (int, error) {
	done := make(chan error, 1)
	go func() { done <- p.Cmd.Wait() }()
	select {
	case err := <-done:
		if p.Cmd.ProcessState != nil {
			return p.Cmd.ProcessState.ExitCode(), nil
		}
		return -1, err
	case <-time.After(timeout):
		return -1, fmt.Errorf("process did not exit within %v", timeout)
	}
}

// Start runs `dsbridge <sub> --listen ADDR args…` on a free port and waits
// until GET readyPath answers 200 (or any status when readyPath is ""
// → "/"). The process is killed when the test ends.
func Start(t testing.TB, sub, readyPath string, args ...string) *Proc {
	t.Helper()
	addr := FreeAddr(t)
	all := append([]string{sub, "--listen", addr}, args...)
	p := StartArgs(t, addr, all...)
	if readyPath == "" {
		readyPath = "/"
	}
	WaitHTTP(t, p, readyPath, 15*time.Second)
	return p
}

// StartArgs runs the binary with exactly args; addr is where it will listen.
// It does not wait for readiness.
func StartArgs(t testing.TB, addr string, args ...string) *Proc {
	t.Helper()
	out := &syncBuffer{}
	cmd := exec.Command(Binary(t), args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &Proc{Cmd: cmd, Addr: addr, URL: "http://" + addr, output: out}
	t.Cleanup(func() {
		// SIGCONT first: a test may have left it stopped (SIGSTOP).
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGCONT)
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_, _ = cmd.Process.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", strings.Join(args, " "), out.String())
		}
	})
	return p
}

// WaitHTTP polls GET p.URL+path until it answers 200 or timeout passes.
func WaitHTTP(t testing.TB, p *Proc, path string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if p.Cmd.ProcessState != nil {
			t.Fatalf("process exited before it was ready:\n%s", p.Output())
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s%s not ready within %v (last error %v)\n%s", p.URL, path, timeout, err, p.Output())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the process's two output pipes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Eventually polls cond every 20 ms until it holds, failing the test with
// what once timeout passes: the bridge and the simulator learn about each
// other by polling, so their views lag by design.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

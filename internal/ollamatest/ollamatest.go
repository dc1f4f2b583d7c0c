// Package ollamatest runs real Ollama in tests: it finds the binary that
// `make ollama` built (scripts/build-ollama.sh), starts `ollama serve` on a
// free loopback port with its own temporary OLLAMA_MODELS and HOME, and
// creates models in it with the `ollama` CLI. Tests import it; production
// code never does.
//
// Without a binary, tests skip — unless DSBRIDGE_REQUIRE_OLLAMA is set (CI
// sets it to 1), when a missing binary fails them: CI must never pass by
// skipping the differential tests.
package ollamatest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dsbridge/dsbridge/internal/testproc"
)

// Version is the Ollama release the project builds and tests against.
const Version = "0.17.4"

// Binary returns the path of the ollama binary: $DSBRIDGE_OLLAMA_BIN, or the
// one scripts/build-ollama.sh left in its cache folder. It skips the test
// when there is none, or fails it when DSBRIDGE_REQUIRE_OLLAMA is set.
func Binary(t testing.TB) string {
	t.Helper()
	p, err := findBinary()
	if err == nil {
		return p
	}
	if os.Getenv("DSBRIDGE_REQUIRE_OLLAMA") != "" {
		t.Fatalf("real Ollama is required (DSBRIDGE_REQUIRE_OLLAMA is set): %v; run `make ollama`", err)
	}
	t.Skipf("real Ollama not available: %v; run `make ollama` (or set DSBRIDGE_OLLAMA_BIN) to run this test", err)
	return ""
}

// findBinary looks where build-ollama.sh writes, the same rule as the script.
func findBinary() (string, error) {
	if p := os.Getenv("DSBRIDGE_OLLAMA_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("DSBRIDGE_OLLAMA_BIN: %w", err)
		}
		return p, nil
	}
	cache := os.Getenv("DSBRIDGE_OLLAMA_CACHE")
	if cache == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", err
			}
			base = filepath.Join(home, ".cache")
		}
		cache = filepath.Join(base, "dsbridge", "ollama-v"+Version)
	}
	p := filepath.Join(cache, "bin", "ollama")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("no binary at %s", p)
	}
	return p, nil
}

// Server is a running `ollama serve`.
type Server struct {
	Bin  string
	Addr string // host:port on loopback
	URL  string // http://Addr
	env  []string
	cmd  *exec.Cmd
	out  *lockedBuffer
}

// Start runs `ollama serve` on a free loopback port and waits until GET /
// answers. env adds variables such as OLLAMA_NUM_PARALLEL=1. The server
// gets its own models folder and HOME (Ollama writes its key pair there),
// so tests never see a user's models, and it is killed when the test ends.
func Start(t testing.TB, env ...string) *Server {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir()
	addr := testproc.FreeAddr(t)
	s := &Server{Bin: bin, Addr: addr, URL: "http://" + addr, out: &lockedBuffer{}}
	s.env = append(cleanEnv(),
		"OLLAMA_HOST="+addr,
		"OLLAMA_MODELS="+filepath.Join(dir, "models"),
		"HOME="+filepath.Join(dir, "home"),
	)
	s.env = append(s.env, env...)
	s.cmd = exec.Command(bin, "serve")
	s.cmd.Env = s.env
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	// Its own process group, so the runner subprocess dies with it.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-exited
		if t.Failed() && os.Getenv("DSBRIDGE_OLLAMA_LOG") != "" {
			t.Logf("ollama serve output:\n%s", s.out.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case <-exited:
			t.Fatalf("ollama serve exited before it was ready:\n%s", s.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("ollama serve not ready within 30s (%v):\n%s", err, s.out.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// cleanEnv is the test's environment less any OLLAMA_* settings a developer
// may have exported, which would change what the server does.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OLLAMA_") {
			env = append(env, kv)
		}
	}
	return env
}

// Create runs `ollama create name -f Modelfile` with `FROM ggufPath`, through
// the CLI as a user would, against this server.
func (s *Server) Create(t testing.TB, name, ggufPath string) {
	t.Helper()
	abs, err := filepath.Abs(ggufPath)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mf := filepath.Join(dir, "Modelfile")
	if err := os.WriteFile(mf, []byte("FROM "+abs+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := s.CLI(t, 2*time.Minute, "create", name, "-f", mf)
	if err != nil {
		t.Fatalf("ollama create %s: %v\n%s\nserver:\n%s", name, err, out, s.out.String())
	}
}

// CLI runs the ollama CLI against this server and returns its combined output.
func (s *Server) CLI(t testing.TB, timeout time.Duration, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.Bin, args...)
	cmd.Env = s.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Kill sends SIGKILL to the server's process group (`ollama serve` and its
// runner), as a crashed or lost machine would: no connection is closed
// cleanly. Cleanup still reaps it.
func (s *Server) Kill() error { return syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL) }

// Output returns what the server logged so far.
func (s *Server) Output() string { return s.out.String() }

// lockedBuffer collects the server's output from two pipes.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dsbridge/dsbridge/internal/testproc"
)

// runBinary runs the real dsbridge binary with args and returns its exit
// code and output.
func runBinary(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(testproc.Binary(t), args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatal(err)
		}
		code = ee.ExitCode()
	}
	return code, stdout.String(), stderr.String()
}

// TestLoadCommand runs `dsbridge load` against a real simulator and checks
// the summary and the results file DESIGN.md specifies.
func TestLoadCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the simulator")
	}
	sim := testproc.Start(t, "sim", "/", "--profile", "instant", "--parallel", "64", "--models", "tiny,other")
	out := filepath.Join(t.TempDir(), "r", "results.json")
	code, stdout, stderr := runBinary(t, "load", "--target", sim.URL, "--rate", "100", "--duration", "2s", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"requested 100.00/s", "latency", "ttft", "Results: " + out} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "sent ") {
		t.Errorf("no progress line on stderr:\n%s", stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Schema    string  `json:"schema"`
		Scenario  string  `json:"scenario"`
		DurationS float64 `json:"duration_s"`
		Requests  struct {
			Total         int64   `json:"total"`
			Failed        int64   `json:"failed"`
			RateRequested float64 `json:"rate_requested"`
			RateAchieved  float64 `json:"rate_achieved"`
		} `json:"requests"`
		Latency map[string]float64 `json:"latency_ms"`
		TTFT    map[string]float64 `json:"ttft_ms"`
		Gates   []any              `json:"gates"`
		Pass    *bool              `json:"pass"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.Schema != "dsbridge.results/v1" || r.Scenario != "load" || r.DurationS != 2 || r.Requests.Total != 200 ||
		r.Requests.Failed != 0 || r.Requests.RateRequested != 100 || r.Requests.RateAchieved <= 0 || r.Gates == nil || r.Pass == nil || !*r.Pass {
		t.Errorf("results: %+v", r)
	}
	if r.Latency["p99"] <= 0 || r.TTFT["p50"] <= 0 {
		t.Errorf("latency %v ttft %v", r.Latency, r.TTFT)
	}
}

// TestLoadCommandMix runs a mix file with every endpoint kind.
func TestLoadCommandMix(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the simulator")
	}
	sim := testproc.Start(t, "sim", "/", "--profile", "instant", "--parallel", "64", "--models", "tiny")
	mix := filepath.Join(t.TempDir(), "mix.yaml")
	if err := os.WriteFile(mix, []byte(`
requests:
  - endpoint: /api/chat
  - endpoint: /api/generate
  - endpoint: /api/chat
    stream: false
  - endpoint: /v1/chat/completions
  - endpoint: /v1/completions
  - endpoint: /api/embed
  - endpoint: /api/embeddings
  - endpoint: /v1/embeddings
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "results.json")
	code, stdout, stderr := runBinary(t, "load", "--target", sim.URL, "--mix", mix, "--arrival", "poisson",
		"--rate", "80", "--duration", "2s", "--out", out, "--progress", "0")
	if code != 0 || !strings.Contains(stdout, "0 failed") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

func TestLoadCommandUsage(t *testing.T) {
	code, _, stderr := runBinary(t, "load", "--help")
	if code != 0 {
		t.Errorf("--help exit %d", code)
	}
	for _, flag := range []string{"target", "rate", "duration", "out", "mix", "model", "arrival", "stages", "start-rate",
		"users", "think", "timeout", "max-in-flight", "late-after", "grace", "seed", "scenario", "prompt-tokens", "max-tokens", "progress"} {
		if !strings.Contains(stderr, "-"+flag+" ") && !strings.Contains(stderr, "-"+flag+"\n") {
			t.Errorf("--help does not document -%s", flag)
		}
	}
	for _, args := range [][]string{
		{"load"}, // no target
		{"load", "--target", "http://127.0.0.1:1"}, // no rate
		{"load", "--target", "http://127.0.0.1:1", "--rate", "1", "--users", "2"},
		{"load", "--target", "http://127.0.0.1:1", "--rate", "1", "--arrival", "burst"},
		{"load", "--target", "http://127.0.0.1:1", "--stages", "10s"},
		{"load", "--bogus"},
	} {
		if code, _, _ := runBinary(t, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2 (usage)", args, code)
		}
	}
	// A target off loopback is refused before anything is sent.
	start := time.Now()
	code, _, stderr = runBinary(t, "load", "--target", "http://10.1.2.3:11434", "--rate", "1", "--duration", "1s", "--model", "m")
	if code != 1 || !strings.Contains(stderr, "loopback") || time.Since(start) > 5*time.Second {
		t.Errorf("non-loopback target: exit %d, %s", code, stderr)
	}
}

// TestLoadCommandInterrupt: Ctrl-C stops the run at once and still writes
// the partial results, exiting 1.
func TestLoadCommandInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the simulator")
	}
	sim := testproc.Start(t, "sim", "/", "--profile", "instant", "--parallel", "64")
	out := filepath.Join(t.TempDir(), "results.json")
	cmd := exec.Command(testproc.Binary(t), "load", "--target", sim.URL, "--rate", "50", "--duration", "60s", "--out", out, "--progress", "0")
	var stdout strings.Builder
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	_ = cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("load did not stop within 10 s of SIGINT")
	}
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("no partial results: %v\n%s", err, stdout.String())
	}
	var r struct {
		Requests struct {
			Total     int64 `json:"total"`
			Scheduled int64 `json:"scheduled"`
			Dropped   int64 `json:"dropped"`
		} `json:"requests"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.Requests.Scheduled != 3000 || r.Requests.Dropped < 2500 || r.Requests.Total == 0 {
		t.Errorf("partial results %+v: want 3000 scheduled, most dropped, some sent", r.Requests)
	}
}

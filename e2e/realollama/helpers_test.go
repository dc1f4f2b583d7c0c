package realollama

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/dsbridge/dsbridge/internal/ollamatest"
	"github.com/dsbridge/dsbridge/internal/testproc"
)

// model is the name both Ollamas serve and every test asks for.
const model = "tiny"

// fleet is two real Ollamas and one bridge in front of them.
type fleet struct {
	ollamas [2]*ollamatest.Server
	bridge  *testproc.Proc
}

// startFleet exists because every test needs the same picture a user has:
// two `ollama serve` processes with the model created by the CLI, and
// `dsbridge serve` in front of them, ready and knowing where the model is.
// Each test gets its own (the failover test kills one Ollama).
func startFleet(t *testing.T) *fleet {
	t.Helper()
	gguf := tinyModel(t)
	f := &fleet{}
	for i := range f.ollamas {
		f.ollamas[i] = ollamatest.Start(t)
		createTiny(t, f.ollamas[i], gguf)
	}
	f.bridge = testproc.Start(t, "serve", "/ready",
		"--upstream", f.ollamas[0].URL, "--upstream", f.ollamas[1].URL)
	// The bridge polls /api/tags; wait until both upstreams list the model,
	// so that the tests see the steady state, not the bridge's first second.
	testproc.Eventually(t, 15*time.Second, "both upstreams healthy with "+model, func() bool {
		st := adminUpstreams(t, f.bridge.URL)
		if len(st.Upstreams) != 2 {
			return false
		}
		for _, u := range st.Upstreams {
			if !u.Healthy || !slices.Contains(u.Models, model+":latest") {
				return false
			}
		}
		return true
	})
	return f
}

// tinyModel writes the default tiny model with `dsbridge tinymodel`, the
// command users run, so these tests also cover it.
func tinyModel(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tiny.gguf")
	out, err := exec.Command(testproc.Binary(t), "tinymodel", "-o", p).CombinedOutput()
	if err != nil {
		t.Fatalf("dsbridge tinymodel: %v\n%s", err, out)
	}
	return p
}

// createTiny exists instead of ollamatest.Server.Create because the model
// needs two parameters. `num_predict 16`: random weights rarely emit an end
// token, and `ollama run` has no flag to bound the answer. `num_thread 1`:
// each runner otherwise spins one thread per core, and two runners on a
// 2-core machine starve each other — measured here, 4 clients through the
// bridge got 25 answers in 8 s instead of about 1800, each ~0.5 s where
// Ollama itself reported ~40 ms.
func createTiny(t *testing.T, s *ollamatest.Server, gguf string) {
	t.Helper()
	mf := filepath.Join(t.TempDir(), "Modelfile")
	if err := os.WriteFile(mf, []byte("FROM "+gguf+"\nPARAMETER num_predict 16\nPARAMETER num_thread 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := s.CLI(t, 2*time.Minute, "create", model, "-f", mf); err != nil {
		t.Fatalf("ollama create %s: %v\n%s\nserver:\n%s", model, err, out, s.Output())
	}
}

// ollamaClient is the official Go client pointed at base, as a user points
// it at the bridge instead of one Ollama.
func ollamaClient(t *testing.T, base string) *api.Client {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	return api.NewClient(u, &http.Client{Timeout: time.Minute})
}

// warm loads the model in every Ollama directly (not through the bridge), so
// that timed parts of tests measure the bridge, not a cold model load.
func (f *fleet) warm(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, s := range f.ollamas {
		c := ollamaClient(t, s.URL)
		stream := false
		err := c.Generate(ctx, &api.GenerateRequest{Model: model, Prompt: "hi", Stream: &stream,
			Options: map[string]any{"num_predict": 1}}, func(api.GenerateResponse) error { return nil })
		if err != nil {
			t.Fatalf("warming %s: %v", s.URL, err)
		}
	}
}

// upstreamStatus is the part of GET /admin/upstreams the tests read.
type upstreamStatus struct {
	Upstreams []struct {
		URL       string   `json:"url"`
		Healthy   bool     `json:"healthy"`
		Available bool     `json:"available"`
		Breaker   string   `json:"breaker"`
		InFlight  int64    `json:"in_flight"`
		Models    []string `json:"models"`
		Loaded    []string `json:"loaded"`
	} `json:"upstreams"`
}

// adminUpstreams exists so that tests check what an operator sees, not the
// bridge's internals.
func adminUpstreams(t *testing.T, bridgeURL string) upstreamStatus {
	t.Helper()
	resp, err := http.Get(bridgeURL + "/admin/upstreams")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /admin/upstreams: %s", resp.Status)
	}
	var s upstreamStatus
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// cli runs the real `ollama` CLI with OLLAMA_HOST set to addr (the bridge),
// as a user would after `export OLLAMA_HOST=…`. It gets its own HOME (the CLI
// reads and writes ~/.ollama) and none of the developer's OLLAMA_* settings.
func cli(t *testing.T, bin, addr string, timeout time.Duration, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "OLLAMA_HOST=" + addr}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// metric returns the value of one unlabelled sample on the bridge's /metrics
// (0 if absent), for reporting what the bridge did to hide a failure.
func metric(t *testing.T, bridgeURL, name string) float64 {
	t.Helper()
	resp, err := http.Get(bridgeURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return 0
}

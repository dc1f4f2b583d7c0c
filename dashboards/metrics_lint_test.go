package dashboards

import (
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/dsbridge/dsbridge/internal/testproc"
)

// TestMetricsLint runs `promtool check metrics` on what a bridge and a
// simulator expose after some traffic (so labelled series exist): the
// dashboards and rules depend on those names following Prometheus's
// conventions (base units, _total counters, help text).
func TestMetricsLint(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a bridge and a simulator")
	}
	promtool := needTool(t, "promtool")
	sim := testproc.Start(t, "sim", "/", "--profile", "instant", "--models", liveModel)
	bridge := testproc.Start(t, "serve", "/ready", "--upstream", sim.URL, "--instance-id", "lint")
	for i := 0; i < 3; i++ {
		resp, err := http.Post(bridge.URL+"/api/chat", "application/json",
			strings.NewReader(`{"model":"`+liveModel+`","messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	for name, p := range map[string]*testproc.Proc{"bridge": bridge, "sim": sim} {
		resp, err := http.Get(p.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s /metrics: %v %v", name, resp.Status, err)
		}
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(string(body))
		out, err := cmd.CombinedOutput()
		if err != nil || len(strings.TrimSpace(string(out))) > 0 {
			t.Errorf("promtool check metrics on the %s's /metrics (%v):\n%s", name, err, out)
		}
	}
}

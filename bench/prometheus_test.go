package bench_test

import (
	"bytes"
	"html/template"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// needPrometheus skips a test that runs Debian's prometheus where it is
// missing, except where DSBRIDGE_REQUIRE_TOOLS is set (CI sets it to 1): a
// CI that forgot to install it must not pass by skipping.
func needPrometheus(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("prometheus"); err == nil {
		return
	}
	if os.Getenv("DSBRIDGE_REQUIRE_TOOLS") != "" {
		t.Fatal("prometheus not found and DSBRIDGE_REQUIRE_TOOLS is set: install Debian's prometheus package (.ci/run does)")
	}
	t.Skip("prometheus not found (apt-get install prometheus); set DSBRIDGE_REQUIRE_TOOLS=1 to make this a failure")
}

// processesUsing lists the pids whose command line mentions s.
func processesUsing(s string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(b, []byte(s)) {
			out = append(out, e.Name()+": "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return out
}

// A short run with --prometheus: every gate has a query, a real Prometheus
// answered it with a finite value that agrees with the load generator where
// both count the same thing, the reports carry the queries, and no
// Prometheus outlives the run.
func TestPrometheusChecksGates(t *testing.T) {
	needPrometheus(t)
	// Every gate here has a Prometheus equivalent (dashboards.GatePromQL);
	// the limits are loose: this test is about the wiring, not the speed
	// of a shared machine.
	p := writeScenario(t, "name: prom\n"+shortTopo+`gates:
  http_req_duration: ["p(99)<5000", "avg<5000"]
  http_req_failed: ["rate<0.05"]
  http_reqs: ["count>100"]
  ttft: ["p(99)<5000"]
`)
	start := time.Now()
	code, output, res, out := runBench(t, p, "--prometheus")
	t.Logf("run took %v", time.Since(start).Round(100*time.Millisecond))
	if code != 0 || res == nil {
		t.Fatalf("exit %d\n%s", code, output)
	}
	if res.Prometheus == nil {
		t.Fatalf("results.json has no prometheus section\n%s", output)
	}
	if res.Prometheus.Error != "" {
		t.Errorf("prometheus: %s", res.Prometheus.Error)
	}
	if res.Prometheus.Targets != 3 { // 2 sims, 1 bridge
		t.Errorf("prometheus scraped %d targets, want 3", res.Prometheus.Targets)
	}
	if len(res.Gates) != 5 {
		t.Fatalf("%d gates, want 5: %+v", len(res.Gates), res.Gates)
	}
	md, _ := os.ReadFile(filepath.Join(out, "report.md"))
	html, _ := os.ReadFile(filepath.Join(out, "report.html"))
	for _, g := range res.Gates {
		name := g.Metric + " " + g.Threshold
		if g.PromQL == "" {
			t.Errorf("%s: no promql", name)
			continue
		}
		if g.PrometheusValue == nil || math.IsNaN(*g.PrometheusValue) || math.IsInf(*g.PrometheusValue, 0) {
			t.Errorf("%s: prometheus value %v (%s), want a finite number; query %s", name, g.PrometheusValue, g.PrometheusError, g.PromQL)
			continue
		}
		// report.md escapes the query's pipes for its table; report.html
		// shows it as written, HTML-escaped.
		if !strings.Contains(string(md), strings.ReplaceAll(g.PromQL, "|", `\|`)) {
			t.Errorf("report.md lacks %s's query %s", name, g.PromQL)
		}
		if !strings.Contains(string(html), template.HTMLEscapeString(g.PromQL)) {
			t.Errorf("report.html lacks %s's query %s", name, g.PromQL)
		}
		t.Logf("%-28s load generator %9.3f  prometheus %9.3f", name, g.Value, *g.PrometheusValue)
		switch g.Metric + " " + g.Threshold {
		case "http_reqs count>100":
			// Both count the run's requests; Prometheus extrapolates its
			// increase() to the window's edges, so allow a fifth either way.
			if v := *g.PrometheusValue; v < 0.8*g.Value || v > 1.2*g.Value {
				t.Errorf("%s: prometheus counted %.1f requests, the load generator %.0f", name, v, g.Value)
			}
		case "http_req_failed rate<0.05":
			if *g.PrometheusValue != 0 || g.Value != 0 {
				t.Errorf("%s: a clean run has error rate %v (prometheus) and %v (load generator)", name, *g.PrometheusValue, g.Value)
			}
		}
	}
	if !strings.Contains(string(md), "## Prometheus") {
		t.Error("report.md has no Prometheus section")
	}
	// The run stopped its Prometheus: nothing runs with its config any more.
	if left := processesUsing(filepath.Join(out, "prometheus", "prometheus.yml")); len(left) > 0 {
		t.Errorf("prometheus outlived the run: %q", left)
	}
}

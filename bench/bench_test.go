package bench_test

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dsbridge/dsbridge/bench"
	"github.com/dsbridge/dsbridge/internal/testproc"
)

// runBench runs `dsbridge bench` as a process, as make bench and CI do, and
// returns its exit code, output and results.
func runBench(t *testing.T, scenario string, extra ...string) (int, string, *bench.Results, string) {
	t.Helper()
	out := t.TempDir()
	args := append([]string{"bench", "--scenario", scenario, "--out", out, "--quiet"}, extra...)
	cmd := exec.Command(testproc.Binary(t), args...)
	b, err := cmd.CombinedOutput()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var res *bench.Results
	if r, err := bench.ReadResults(filepath.Join(out, "results.json")); err == nil {
		res = r
	}
	return code, string(b), res, out
}

// writeScenario writes a short scenario for the tests.
func writeScenario(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const shortTopo = `topology:
  sims: {count: 2, profile: instant, models: ["tiny"]}
  bridges: {count: 1}
load:
  stages: [{duration: 6s, rate: 30}]
  mix: [{endpoint: /api/chat, model: tiny, stream: true, max_tokens: 8}]
`

// A gate that cannot hold makes the run exit 1, and the report names the gate
// and the margin it missed by.
func TestImpossibleGateExits1(t *testing.T) {
	p := writeScenario(t, "name: impossible\n"+shortTopo+`gates:
  http_req_duration: ["p(99)<0.001"]
  http_req_failed: ["rate<0.5"]
`)
	code, output, res, out := runBench(t, p)
	if code != 1 {
		t.Fatalf("exit %d; want 1\n%s", code, output)
	}
	if res == nil || res.Pass || len(res.Gates) != 2 {
		t.Fatalf("results: %+v", res)
	}
	md, _ := os.ReadFile(filepath.Join(out, "report.md"))
	for _, want := range []string{"FAIL", "FAILED gate http_req_duration p(99)<0.001", "missed by"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
	if !strings.Contains(output, "p(99)<0.001") {
		t.Errorf("the command's error does not name the gate:\n%s", output)
	}
	for _, g := range res.Gates {
		if g.Metric == "http_req_failed" && !g.Pass {
			t.Errorf("the loose gate failed too: %+v", g)
		}
		if g.Metric == "http_req_duration" && (g.Pass || g.Margin >= 0) {
			t.Errorf("duration gate: %+v", g)
		}
	}
}

// A misspelt gate metric breaks the run (exit 2) before anything starts.
func TestUnknownGateMetricExits2(t *testing.T) {
	p := writeScenario(t, "name: typo\n"+shortTopo+"gates:\n  http_req_duratoin: [\"p(99)<500\"]\n")
	code, output, _, _ := runBench(t, p)
	if code != 2 || !strings.Contains(output, "http_req_duratoin") {
		t.Errorf("exit %d; want 2 naming the metric\n%s", code, output)
	}
}

// A short clean run: exit 0, the three files, DESIGN.md's keys, a
// self-contained HTML report, and the traffic spread over both sims.
func TestShortRunWritesReports(t *testing.T) {
	p := writeScenario(t, "name: short\n"+shortTopo+`gates:
  http_req_failed: ["rate<0.05"]
  http_req_duration: ["p(99)<3000"]
`)
	code, output, res, out := runBench(t, p)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, output)
	}
	raw, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"schema", "scenario", "duration_s", "requests", "latency_ms", "ttft_ms", "itl_ms", "gates", "pass", "timeline", "chaos_events", "upstreams"} {
		if _, ok := m[k]; !ok {
			t.Errorf("results.json lacks %q", k)
		}
	}
	for _, k := range []string{"total", "failed", "rate_requested", "rate_achieved"} {
		if _, ok := m["requests"].(map[string]any)[k]; !ok {
			t.Errorf("results.json requests lacks %q", k)
		}
	}
	// 6 s at 30/s: 180 requests, give or take the generator's rounding.
	if res.Requests.Total < 170 || res.Requests.Total > 190 {
		t.Errorf("requests %d; want about 180", res.Requests.Total)
	}
	if len(res.Upstreams) != 2 || res.Upstreams[0].Share < 0.2 || res.Upstreams[1].Share < 0.2 {
		t.Errorf("traffic share: %+v", res.Upstreams)
	}
	// Without --prometheus the report still names each gate's query (it is
	// known statically), but nothing evaluated it.
	for _, g := range res.Gates {
		if g.PromQL == "" || g.PrometheusValue != nil {
			t.Errorf("gate %s %s: promql %q, prometheus value %v; want a query and no value", g.Metric, g.Threshold, g.PromQL, g.PrometheusValue)
		}
	}
	if res.Prometheus != nil {
		t.Errorf("results.json has a prometheus section without --prometheus: %+v", res.Prometheus)
	}
	html, _ := os.ReadFile(filepath.Join(out, "report.html"))
	h := string(html)
	if !strings.Contains(h, "histogram_quantile(0.99") {
		t.Error("report.html lacks the p99 gate's PromQL")
	}
	if !strings.Contains(h, "<svg") {
		t.Error("report.html has no inline chart")
	}
	for _, bad := range []string{"<script", "src=\"http", "href=\"http", "@import", "url(http", "<link"} {
		if strings.Contains(h, bad) {
			t.Errorf("report.html is not self-contained: has %q", bad)
		}
	}
}

// The shipped failover scenarios pass, with their gates in the report.
func TestFailoverScenariosPass(t *testing.T) {
	if testing.Short() {
		t.Skip("30 s each")
	}
	for _, name := range []string{"failover-kill", "failover-hang"} {
		t.Run(name, func(t *testing.T) {
			// Two tries: on a 2-core machine shared with other builds, a
			// burst of CPU starvation can time out the bridge's health
			// checks on every sim at once. A real regression fails both.
			var (
				code   int
				output string
				res    *bench.Results
				out    string
			)
			for try := 1; try <= 2; try++ {
				code, output, res, out = runBench(t, name)
				if code == 0 {
					break
				}
				md, _ := os.ReadFile(filepath.Join(out, "report.md"))
				if try == 2 {
					t.Fatalf("exit %d twice; last:\n%s\n%s", code, output, md)
				}
				t.Logf("try %d: exit %d (machine %s); trying again\n%s", try, code, loadavg(), md)
			}
			if len(res.Chaos) != 1 || res.Chaos[0].Error != "" {
				t.Fatalf("chaos events: %+v", res.Chaos)
			}
			md, _ := os.ReadFile(filepath.Join(out, "report.md"))
			for _, g := range res.Gates {
				if !strings.Contains(string(md), g.Threshold) {
					t.Errorf("gate %s %s not in the report", g.Metric, g.Threshold)
				}
				t.Logf("%s %s %s: %.4g %s", name, g.Metric, g.Threshold, g.Value, g.Unit)
			}
		})
	}
}

// loadavg is /proc/loadavg, for logs.
func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return "loadavg " + strings.TrimSpace(string(b))
}

// childrenOf lists the pids whose parent is pid.
func childrenOf(pid int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, n)
		}
	}
	return out
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	return !strings.HasPrefix(strings.TrimSpace(s[strings.LastIndexByte(s, ')')+1:]), "Z")
}

// An interrupted run (Ctrl-C, or the runner killed outright) leaves no
// process behind.
func TestInterruptLeavesNoProcesses(t *testing.T) {
	topo, procs := strings.Replace(shortTopo, "duration: 6s", "duration: 60s", 1), 3
	if _, err := exec.LookPath("nginx"); err == nil {
		// With nginx too: 2 sims, 2 bridges, nginx.
		topo, procs = strings.Replace(topo, "bridges: {count: 1}", "bridges: {count: 2}\n  lb: nginx", 1), 5
	}
	var extra []string
	if _, err := exec.LookPath("prometheus"); err == nil {
		// And a Prometheus watching, a child of the runner like the rest.
		extra, procs = []string{"--prometheus"}, procs+1
	}
	long := writeScenario(t, "name: long\n"+topo+
		"chaos:\n  - {at: 1s, action: pause, target: sim-1, duration: 50s}\n")
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			out := t.TempDir()
			cmd := exec.Command(testproc.Binary(t), append([]string{"bench", "--scenario", long, "--out", out, "--quiet"}, extra...)...)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill() })
			// Wait until the cluster (2 sims, 1 bridge) is up and the
			// pause is in place.
			var kids []int
			deadline := time.Now().Add(30 * time.Second)
			for time.Now().Before(deadline) {
				kids = childrenOf(cmd.Process.Pid)
				if len(kids) >= procs {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if len(kids) < procs {
				t.Fatalf("only %d of %d children appeared", len(kids), procs)
			}
			time.Sleep(2 * time.Second)
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			var ee *exec.ExitError
			if sig == syscall.SIGINT && (!errors.As(err, &ee) || ee.ExitCode() != 2) {
				t.Errorf("after SIGINT: %v; want exit 2", err)
			}
			deadline = time.Now().Add(10 * time.Second)
			for _, k := range kids {
				for alive(k) && time.Now().Before(deadline) {
					time.Sleep(50 * time.Millisecond)
				}
				if alive(k) {
					t.Errorf("pid %d outlived the runner (%v)", k, sig)
					_ = syscall.Kill(k, syscall.SIGCONT)
					_ = syscall.Kill(k, syscall.SIGKILL)
				}
			}
		})
	}
}

// nginx in front of two bridges: the load goes through it (nginx-light, as
// .ci/run installs), and both bridges get traffic.
func TestNginxInFront(t *testing.T) {
	if _, err := exec.LookPath("nginx"); err != nil {
		if _, err := os.Stat("/usr/sbin/nginx"); err != nil {
			if os.Getenv("DSBRIDGE_REQUIRE_TOOLS") != "" {
				t.Fatal("nginx is not installed and DSBRIDGE_REQUIRE_TOOLS is set (.ci/run installs nginx-light)")
			}
			t.Skip("nginx is not installed (apt-get install nginx-light)")
		}
	}
	p := writeScenario(t, "name: nginx\n"+strings.Replace(shortTopo, "bridges: {count: 1}", "bridges: {count: 2}\n  lb: nginx", 1)+
		"gates:\n  http_req_failed: [\"rate<0.05\"]\n")
	code, output, res, out := runBench(t, p)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, output)
	}
	if res.Topology.LB != "nginx" {
		t.Errorf("topology %+v", res.Topology)
	}
	// Each bridge counted requests: nginx spread the load.
	for _, b := range []string{"bridge-1", "bridge-2"} {
		if bench.Sum(res.Scraped[b], "bridge_requests_total", nil) == 0 {
			t.Errorf("%s got no request through nginx", b)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "nginx", "nginx.conf")); err != nil {
		t.Error(err)
	}
}

// A Toxiproxy latency toxic on every sim, half-way through, shows in the
// latency of the requests sent after it: the network layer really sits
// between the bridges and the sims.
func TestNetworkLatencyShows(t *testing.T) {
	p := writeScenario(t, "name: net\n"+strings.Replace(shortTopo, "bridges: {count: 1}", "bridges: {count: 1}\n  network: true", 1)+
		"chaos:\n  - {at: 3s, action: network, target: sims, toxic: {type: latency, attributes: {latency: 300}}}\n")
	code, output, res, _ := runBench(t, p)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, output)
	}
	if len(res.Chaos) != 1 || res.Chaos[0].Error != "" || res.Chaos[0].RevertedS == 0 {
		t.Fatalf("chaos %+v", res.Chaos)
	}
	before, after := res.Timeline[1].P50Ms, res.Timeline[4].P50Ms
	if before > 250 || after < 290 {
		t.Errorf("p50 %v ms before the toxic, %v ms after; want < 250 then ≥ 300", before, after)
	}
	// The bridges dialled the proxies: traffic is still attributed to sims.
	var total float64
	for _, u := range res.Upstreams {
		total += u.Requests
	}
	if total == 0 {
		t.Errorf("no traffic attributed through the proxies: %+v", res.Upstreams)
	}
}

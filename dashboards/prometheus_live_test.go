package dashboards

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dsbridge/dsbridge/dashboards/promrun"
	"github.com/dsbridge/dsbridge/internal/testproc"
)

// The live test's cluster: two simulators behind two bridges, each bridge
// also configured with a dead upstream (so the fleet panels show a down
// upstream and failovers), one simulator with a latency fault (so the chaos
// annotation has events), a little bounded load,
// and a real Prometheus scraping all four every second with this package's
// rule files loaded.
const (
	liveModel = "deepseek-r1:1.5b"
	// liveRateInterval stands for Grafana's $__rate_interval: four scrape
	// intervals of 1 s, plus margin.
	liveRateInterval = "10s"
	// liveDeadline bounds the wait for every query to have data.
	liveDeadline = 60 * time.Second
)

// TestDashboardQueriesAgainstPrometheus evaluates every query of every
// dashboard panel, every annotation and every recording rule on a real
// Prometheus scraping real `dsbridge serve` and `dsbridge sim` processes
// under load: each must parse and return data, every rule must evaluate
// without error, and the seed's PromQL must return one series per bridge.
func TestDashboardQueriesAgainstPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prometheus, two bridges and two simulators")
	}
	promBin := needTool(t, "prometheus")

	simA := testproc.Start(t, "sim", "/", "--profile", "instant", "--models", liveModel, "--parallel", "4", "--seed", "1")
	simB := testproc.Start(t, "sim", "/", "--profile", "instant", "--models", liveModel, "--parallel", "4", "--seed", "2")
	// simA delays half its answers by a millisecond: a fault that fires
	// often (the chaos annotation needs fired faults) without failing
	// requests, which would take simA out of rotation for fail_timeout (30 s)
	// and starve the counter. Failovers come from the dead upstream.
	postJSON(t, simA.URL+"/sim/faults", `{"faults":[{"kind":"latency","delay":"1ms","probability":0.5}]}`)

	dead := "http://" + testproc.DeadAddr(t)
	// Log every request, not only failed ones, so the log-field check below
	// sees request lines however few failovers happen.
	cfg := filepath.Join(t.TempDir(), "bridge.yaml")
	if err := os.WriteFile(cfg, []byte("log:\n  access: all\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bridges := map[string]*testproc.Proc{}
	for _, id := range []string{"bridge-a", "bridge-b"} {
		bridges[id] = testproc.Start(t, "serve", "/ready", "--config", cfg,
			"--upstream", simA.URL, "--upstream", simB.URL, "--upstream", dead, "--instance-id", id)
	}

	prom := startPrometheus(t, promBin, bridges, []*testproc.Proc{simA, simB})

	ctx, stop := context.WithCancel(context.Background())
	var load sync.WaitGroup
	for _, b := range bridges {
		load.Add(1)
		go func() { defer load.Done(); driveLoad(ctx, b.URL) }()
	}
	t.Cleanup(func() { stop(); load.Wait() })

	type check struct {
		name, expr string
	}
	var checks []check
	for _, s := range All() {
		data, err := os.ReadFile(filepath.Join("grafana", s.File))
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range panelQueries(t, data) {
			checks = append(checks, check{s.File + ": " + q.panel, expandVariables(q.expr, liveRateInterval)})
		}
	}
	for _, r := range recordingRules(t) {
		checks = append(checks, check{"recording rule " + r, r})
	}
	// The PromQL the bench report links its gates to.
	for _, g := range [][2]string{{"http_req_duration", "p(99)"}, {"http_req_duration", "avg"}, {"ttft", "p(99)"},
		{"itl", "p(99)"}, {"http_req_failed", "rate"}, {"http_reqs", "rate"}} {
		if expr, ok := GatePromQL(g[0], g[1], "30s"); ok {
			checks = append(checks, check{"gate " + g[0] + " " + g[1], expr})
		}
	}

	// Every query is checked, output tokens, inter-token latency and log
	// lines by level (issue 5, item 1) included: the bridge exports them.
	prom.waitFor(t, `bridge_build_info`, 20*time.Second)
	pending := checks
	checked := len(pending)

	// Poll until every query has data, a series with a finite value (a NaN
	// from 0/0 or a quantile of nothing draws no line): rates need two scrapes, recording
	// rules one evaluation after that, and the fault annotation a fired fault.
	began := time.Now()
	deadline := began.Add(liveDeadline)
	var last []check
	for len(pending) > 0 && time.Now().Before(deadline) {
		last = pending
		var still []check
		for _, c := range pending {
			n, err := prom.finite(c.expr)
			if c.expr == seedMeanLatency {
				// Checked on its own below: present per bridge, and
				// finite unless the bridge's route label makes it NaN.
				n, err = prom.count(c.expr)
			}
			if err != nil {
				t.Fatalf("%s: %q does not evaluate: %v", c.name, c.expr, err)
			}
			if n == 0 {
				still = append(still, c)
			}
		}
		pending = still
		if len(pending) > 0 {
			time.Sleep(time.Second)
		}
	}
	for _, c := range pending {
		t.Errorf("%s: no data after %v: %s", c.name, liveDeadline, c.expr)
	}
	t.Logf("waited %v for data; the last %d to arrive:", time.Since(began).Round(time.Second), len(last))
	for _, c := range last[:min(len(last), 5)] {
		t.Logf("  %s", c.name)
	}
	t.Logf("%d of %d dashboard, recording-rule and gate queries checked, %d returned finite data", checked, len(checks), checked-len(pending))

	// A few headline values, for whoever reads the log.
	for _, expr := range []string{`instance:bridge_requests:rate5m`, `instance:bridge_request_success:ratio_rate5m`,
		`instance_quantile:bridge_request_duration_seconds:histogram_quantile{quantile="0.99"}`,
		`sum by (instance) (bridge_failovers_total)`, `bridge_upstream_up`, seedMeanLatency,
		`sum by (instance) (bridge_output_tokens_total)`, `sum by (instance) (bridge_inter_token_latency_seconds_count)`,
		`sum by (instance, level) (bridge_log_messages_total)`} {
		series, _ := prom.Query(context.Background(), expr)
		for _, s := range series {
			t.Logf("  %s %v = %.4g", expr, s.Metric, s.Value)
		}
	}

	// The seed's query, as written: one series per bridge, named by the
	// instance label the scrape config gives each target (its --instance-id).
	got := prom.labelValues(t, seedMeanLatency, "instance")
	if want := []string{"bridge-a", "bridge-b"}; !slices.Equal(got, want) {
		t.Errorf("seed query: instances %v, want %v", got, want)
	}
	// And it has a value: the seed's query averages per-series means, so
	// it needs one histogram series per bridge (an idle series would make
	// it 0/0 = NaN).
	if n, err := prom.finite(seedMeanLatency); err != nil || n != 2 {
		t.Errorf("seed query: %d of 2 bridges have a finite value (%v)", n, err)
	}
	// bridge_build_info's instance_id agrees with the instance label.
	for _, id := range []string{"bridge-a", "bridge-b"} {
		if n, err := prom.count(fmt.Sprintf(`bridge_build_info{instance=%q, instance_id=%q}`, id, id)); err != nil || n != 1 {
			t.Errorf("bridge_build_info{instance=%q, instance_id=%q}: %d series, %v", id, id, n, err)
		}
	}

	// The error-log alert's selector finds the bridges' log counter: one
	// series per bridge, zero or more.
	if n, err := prom.count(`bridge_log_messages_total{level=~"(?i)error"}`); err != nil || n != 2 {
		t.Errorf(`bridge_log_messages_total{level=~"(?i)error"}: %d series, want 2 (%v)`, n, err)
	}

	// The bridges' log lines carry the ECS fields the index template and
	// the Kibana views rely on, with the template's types.
	for id, b := range bridges {
		checkLogLines(t, id, b.Output())
	}

	// Every rule, recording and alerting, evaluates without error.
	rules, err := prom.Rules(context.Background())
	if err != nil || len(rules) == 0 {
		t.Fatalf("rules: %d loaded, %v", len(rules), err)
	}
	for _, r := range rules {
		if r.Health != "ok" {
			t.Errorf("%s rule %s: health %q: %s", r.Type, r.Name, r.Health, r.LastError)
		}
	}
}

// startPrometheus runs promrun's Prometheus scraping the bridges (instance
// label = the bridge's instance ID, as prometheus.example.yml does) and the
// simulators every second, with the embedded rules (the same files
// dsbridge bench would load) in a temp dir.
func startPrometheus(t *testing.T, bin string, bridges map[string]*testproc.Proc, sims []*testproc.Proc) *promAPI {
	t.Helper()
	dir := t.TempDir()
	rules, err := WriteRules(dir)
	if err != nil {
		t.Fatal(err)
	}
	var targets []promrun.Target
	for id, b := range bridges {
		targets = append(targets, promrun.Target{Job: "dsbridge", Addr: b.Addr, Instance: id})
	}
	for _, s := range sims {
		targets = append(targets, promrun.Target{Job: "ollamasim", Addr: s.Addr})
	}
	var out syncBuffer
	srv, err := promrun.Start(context.Background(), promrun.Config{
		Binary: bin, Dir: dir, ScrapeInterval: time.Second, RuleFiles: rules, Targets: targets, Log: &out,
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("prometheus output:\n%s", out.String())
		}
	})
	return &promAPI{srv}
}

// driveLoad sends a bounded trickle of requests (about 10/s, one at a time:
// streamed chats and non-streamed generates) until ctx ends.
func driveLoad(ctx context.Context, base string) {
	bodies := []struct{ path, body string }{
		{"/api/chat", `{"model":"` + liveModel + `","messages":[{"role":"user","content":"hello"}],"stream":true}`},
		{"/api/generate", `{"model":"` + liveModel + `","prompt":"hello","stream":false}`},
		{"/api/chat", `{"model":"` + liveModel + `","messages":[{"role":"user","content":"why"}],"stream":true}`},
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		b := bodies[i%len(bodies)]
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+b.path, strings.NewReader(b.body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

func postJSON(t *testing.T, u, body string) {
	t.Helper()
	resp, err := http.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s: %s: %s", u, resp.Status, b)
	}
}

// recordingRules returns a selector for each rule of recording.yml: its name
// plus its static labels (the quantile variants share one name).
func recordingRules(t *testing.T) []string {
	var rules struct {
		Groups []struct {
			Rules []struct {
				Record string            `yaml:"record"`
				Labels map[string]string `yaml:"labels"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	readYAML(t, "prometheus/recording.yml", &rules)
	var out []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			var m []string
			for k, v := range r.Labels {
				m = append(m, fmt.Sprintf("%s=%q", k, v))
			}
			sort.Strings(m)
			out = append(out, r.Record+"{"+strings.Join(m, ",")+"}")
		}
	}
	return out
}

// promAPI adds the test's conveniences to promrun.Server.
type promAPI struct{ *promrun.Server }

// count is the number of series expr returns now.
func (p *promAPI) count(expr string) (int, error) {
	s, err := p.Query(context.Background(), expr)
	return len(s), err
}

// finite is the number of series expr returns now with a finite value.
func (p *promAPI) finite(expr string) (int, error) {
	series, err := p.Query(context.Background(), expr)
	n := 0
	for _, s := range series {
		if !math.IsNaN(s.Value) && !math.IsInf(s.Value, 0) {
			n++
		}
	}
	return n, err
}

// waitFor polls until expr has data or timeout passes.
func (p *promAPI) waitFor(t *testing.T, expr string, timeout time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(timeout); ; time.Sleep(200 * time.Millisecond) {
		if n, err := p.count(expr); err == nil && n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no data within %v: is Prometheus scraping?", expr, timeout)
		}
	}
}

// labelValues returns the sorted values of label over expr's result series.
func (p *promAPI) labelValues(t *testing.T, expr, label string) []string {
	t.Helper()
	series, err := p.Query(context.Background(), expr)
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	var out []string
	for _, s := range series {
		out = append(out, s.Metric[label])
	}
	sort.Strings(out)
	return out
}

// syncBuffer collects Prometheus's output from its two pipes.
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

// checkLogLines reads a bridge's JSON log lines: every field the index
// template maps must hold a value of a compatible JSON type, and a request
// line must carry the fields the Kibana views show. trace.id appears only
// with tracing on, so it is not required here.
func checkLogLines(t *testing.T, instance, output string) {
	t.Helper()
	fields, _ := templateFields(t)
	required := []string{"@timestamp", "log.level", "message", "service.name", "service.instance.id",
		"http.request.id", "event.duration", "url.path", "http.response.status_code", "model", "upstream", "attempts"}
	requests := 0
	for _, line := range strings.Split(output, "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("%s: log line is not JSON: %v: %s", instance, err, line)
			continue
		}
		for k, v := range rec {
			typ, mapped := fields[k]
			if !mapped {
				continue // dynamic mapping takes it (strings as keyword)
			}
			_, isNum := v.(float64)
			_, isStr := v.(string)
			switch typ {
			case "long", "integer":
				if !isNum {
					t.Errorf("%s: %s is %T, the template maps it %s: %s", instance, k, v, typ, line)
				}
			default:
				if !isStr {
					t.Errorf("%s: %s is %T, the template maps it %s: %s", instance, k, v, typ, line)
				}
			}
		}
		if rec["message"] != "request" {
			continue
		}
		requests++
		for _, k := range required {
			if _, ok := rec[k]; !ok {
				t.Errorf("%s: request log line without %s: %s", instance, k, line)
			}
		}
		if rec["service.instance.id"] != instance {
			t.Errorf("%s: service.instance.id %v", instance, rec["service.instance.id"])
		}
	}
	if requests == 0 {
		t.Errorf("%s: no request log lines (log.access is all)", instance)
	}
}

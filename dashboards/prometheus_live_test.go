package dashboards

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dsbridge/dsbridge/internal/testproc"
)

// The live test's cluster: two simulators behind two bridges, each bridge
// also configured with a dead upstream (so the fleet panels show a down
// upstream), one simulator failing a share of chats with 503 (so failovers,
// upstream failures and chaos annotations have data), a little bounded load,
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
	// simA answers 30 % of chats with 503 before the first byte: the bridges
	// fail those over to simB.
	postJSON(t, simA.URL+"/sim/faults", `{"faults":[{"kind":"error","status":503,"message":"queue full","probability":0.3,"paths":["/api/chat"]}]}`)

	dead := "http://" + testproc.DeadAddr(t)
	bridges := map[string]*testproc.Proc{}
	for _, id := range []string{"bridge-a", "bridge-b"} {
		bridges[id] = testproc.Start(t, "serve", "/ready",
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

	// Panels for metrics the bridge does not expose yet (issue 5, item 1)
	// are reported, not failed, while no series of that name exists at all;
	// the moment the bridge exposes one, its panels must return data too.
	prom.waitFor(t, `bridge_build_info`, 20*time.Second)
	var awaited []string
	for _, m := range awaitedBridgeMetrics() {
		if n, err := prom.count(`count({__name__="` + m + `"})`); err == nil && n == 0 {
			awaited = append(awaited, m)
		}
	}
	var pending []check
	for _, c := range checks {
		if i := slices.IndexFunc(awaited, func(m string) bool { return strings.Contains(c.expr, m) }); i >= 0 {
			t.Logf("NOT CHECKED: %s: the bridge does not expose %s yet", c.name, awaited[i])
			continue
		}
		pending = append(pending, c)
	}
	checked := len(pending)

	// Poll until every query has data: rates need two scrapes, recording
	// rules one evaluation after that, and the fault annotation a fired fault.
	deadline := time.Now().Add(liveDeadline)
	for len(pending) > 0 && time.Now().Before(deadline) {
		var still []check
		for _, c := range pending {
			n, err := prom.count(c.expr)
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
	t.Logf("%d of %d dashboard and recording-rule queries checked, %d returned data", checked, len(checks), checked-len(pending))

	// The seed's query, as written: one series per bridge, named by the
	// instance label the scrape config gives each target (its --instance-id).
	got := prom.labelValues(t, seedMeanLatency, "instance")
	if want := []string{"bridge-a", "bridge-b"}; !slices.Equal(got, want) {
		t.Errorf("seed query: instances %v, want %v", got, want)
	}
	// bridge_build_info's instance_id agrees with the instance label.
	for _, id := range []string{"bridge-a", "bridge-b"} {
		if n, err := prom.count(fmt.Sprintf(`bridge_build_info{instance=%q, instance_id=%q}`, id, id)); err != nil || n != 1 {
			t.Errorf("bridge_build_info{instance=%q, instance_id=%q}: %d series, %v", id, id, n, err)
		}
	}

	// The bridges' log lines carry the ECS fields the index template and
	// the Kibana views rely on, with the template's types.
	for id, b := range bridges {
		checkLogLines(t, id, b.Output())
	}

	// Every rule, recording and alerting, evaluates without error.
	for _, r := range prom.rules(t) {
		if r.Health != "ok" {
			t.Errorf("rule %s%s: health %q: %s", r.Name, r.Alert, r.Health, r.LastError)
		}
	}
}

// awaitedBridgeMetrics are the series the dashboards and alerts use that
// the bridge did not expose when they were written: output tokens and
// inter-token latency (issue 5, item 1) and a log-lines counter by level for
// the seed's error-log alert. Remove a name once the bridge exposes it.
func awaitedBridgeMetrics() []string {
	return []string{
		"bridge_output_tokens_total",
		"bridge_inter_token_latency_seconds_bucket",
		"bridge_log_messages_total",
	}
}

// startPrometheus writes a config scraping the bridges (instance label = the
// bridge's instance ID, as prometheus.example.yml does) and simulators every
// second, with recording.yml and alerts.yml loaded, and starts Prometheus on
// a free loopback port with its TSDB in a temp dir.
func startPrometheus(t *testing.T, bin string, bridges map[string]*testproc.Proc, sims []*testproc.Proc) *promAPI {
	t.Helper()
	dir := t.TempDir()
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	type static struct {
		Targets []string          `yaml:"targets"`
		Labels  map[string]string `yaml:"labels,omitempty"`
	}
	var bridgeTargets []static
	for id, b := range bridges {
		bridgeTargets = append(bridgeTargets, static{Targets: []string{b.Addr}, Labels: map[string]string{"instance": id}})
	}
	var simTargets []string
	for _, s := range sims {
		simTargets = append(simTargets, s.Addr)
	}
	cfg := map[string]any{
		"global":     map[string]any{"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "900ms"},
		"rule_files": []string{abs("prometheus/recording.yml"), abs("prometheus/alerts.yml")},
		"scrape_configs": []any{
			map[string]any{"job_name": "dsbridge", "static_configs": bridgeTargets},
			map[string]any{"job_name": "ollamasim", "static_configs": []static{{Targets: simTargets}}},
		},
	}
	data, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	addr := testproc.FreeAddr(t)
	var out bytes.Buffer
	cmd := exec.Command(bin,
		"--config.file="+cfgPath,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--web.console.templates="+dir, "--web.console.libraries="+dir,
		"--log.level=warn")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus output:\n%s", out.String())
		}
	})
	p := &promAPI{base: "http://" + addr}
	for deadline := time.Now().Add(20 * time.Second); ; {
		resp, err := http.Get(p.base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
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

// promAPI is the little of Prometheus's HTTP API the test needs.
type promAPI struct{ base string }

type promSeries struct {
	Metric map[string]string `json:"metric"`
}

// query runs an instant query now and returns the result's series (or the
// scalar as one unlabelled series).
func (p *promAPI) query(expr string) ([]promSeries, error) {
	resp, err := http.PostForm(p.base+"/api/v1/query", url.Values{"query": {expr}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status    string `json:"status"`
		Error     string `json:"error"`
		ErrorType string `json:"errorType"`
		Data      struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("%s: %s", body.ErrorType, body.Error)
	}
	if body.Data.ResultType == "scalar" {
		return []promSeries{{}}, nil
	}
	var series []promSeries
	if err := json.Unmarshal(body.Data.Result, &series); err != nil {
		return nil, err
	}
	return series, nil
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

func (p *promAPI) count(expr string) (int, error) {
	s, err := p.query(expr)
	return len(s), err
}

// labelValues returns the sorted values of label over expr's result series.
func (p *promAPI) labelValues(t *testing.T, expr, label string) []string {
	t.Helper()
	series, err := p.query(expr)
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

type promRule struct {
	Name      string `json:"name"`
	Alert     string `json:"alert"`
	Health    string `json:"health"`
	LastError string `json:"lastError"`
}

// rules lists every loaded rule with its evaluation health.
func (p *promAPI) rules(t *testing.T) []promRule {
	t.Helper()
	resp, err := http.Get(p.base + "/api/v1/rules")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Groups []struct {
				Rules []promRule `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	var out []promRule
	for _, g := range body.Data.Groups {
		out = append(out, g.Rules...)
	}
	if len(out) == 0 {
		t.Fatal("prometheus loaded no rules")
	}
	return out
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
		t.Errorf("%s: no request log lines (failovers are logged at info)", instance)
	}
}

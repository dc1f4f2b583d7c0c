// Package promrun runs a real Prometheus (Debian's prometheus package)
// scraping a dsbridge cluster on loopback, with dsbridge's recording and
// alert rules loaded, and reads it back through the HTTP API. dsbridge bench
// can use it to watch a run the way an operator would (the report then links
// each gate to live PromQL, see dashboards.GatePromQL); the dashboards'
// tests use it to check every panel query against real data.
//
//	bridges, sims ──scrape every ScrapeInterval──▶ prometheus (Dir: config, TSDB)
//	                                                   │ rules: recording.yml, alerts.yml
//	Server.Query / Server.Rules ◀──── HTTP API ────────┘
package promrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dsbridge/dsbridge/internal/loopback"
)

// Target is one scrape target.
type Target struct {
	Job  string // the scrape job: "dsbridge" for bridges (the alerts expect it), "ollamasim" for simulators
	Addr string // host:port serving /metrics
	// Instance, when set, replaces Prometheus's default instance label (the
	// scrape address); give a bridge its --instance-id so the dashboards and
	// the logs' service.instance.id name it alike.
	Instance string
}

// Config says what to run. Zero values pick the defaults given.
type Config struct {
	Binary         string        // the prometheus executable; "" finds "prometheus" on PATH
	Dir            string        // holds prometheus.yml and the TSDB; required (a temp dir)
	Listen         string        // a loopback host:port; "" picks a free port on 127.0.0.1
	ScrapeInterval time.Duration // also the rule evaluation interval; 0 means 1 s
	RuleFiles      []string      // rule files to load (dashboards.WriteRules writes dsbridge's)
	Targets        []Target
	Log            io.Writer // Prometheus's own output; nil discards it
}

// Server is a running Prometheus.
type Server struct {
	URL  string // http://host:port
	cmd  *exec.Cmd
	done chan error
}

// Start writes the config, starts Prometheus and waits until it is ready
// (or ctx ends). Stop it with Stop.
func Start(ctx context.Context, c Config) (*Server, error) {
	if c.Dir == "" {
		return nil, errors.New("promrun: Config.Dir is required")
	}
	if c.Binary == "" {
		p, err := exec.LookPath("prometheus")
		if err != nil {
			return nil, fmt.Errorf("promrun: %w (apt-get install prometheus)", err)
		}
		c.Binary = p
	}
	if c.ScrapeInterval <= 0 {
		c.ScrapeInterval = time.Second
	}
	if c.Listen == "" {
		addr, err := loopback.FreeAddr()
		if err != nil {
			return nil, err
		}
		c.Listen = addr
	} else if err := checkLoopback(c.Listen); err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(c.Dir, "prometheus.yml")
	cfg, err := configYAML(c)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		return nil, err
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	cmd := exec.Command(c.Binary,
		"--config.file="+cfgPath,
		"--storage.tsdb.path="+filepath.Join(c.Dir, "data"),
		"--web.listen-address="+c.Listen,
		// Debian's defaults point at /usr/share/prometheus, which may be
		// missing; nothing here serves consoles.
		"--web.console.templates="+c.Dir, "--web.console.libraries="+c.Dir,
		"--log.level=warn")
	cmd.Stdout, cmd.Stderr = c.Log, c.Log
	// Own process group, so a Ctrl-C on the terminal reaches only the
	// caller, which stops Prometheus in order; Pdeathsig so that a caller
	// killed outright (SIGKILL, OOM) does not leave Prometheus running, as
	// internal/proc does for the cluster's processes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("promrun: %w", err)
	}
	s := &Server{URL: "http://" + c.Listen, cmd: cmd, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait() }()
	if err := s.waitReady(ctx); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

// configYAML renders prometheus.yml: one job per distinct Target.Job, one
// static config per target so each can carry its own instance label.
func configYAML(c Config) ([]byte, error) {
	type static struct {
		Targets []string          `yaml:"targets"`
		Labels  map[string]string `yaml:"labels,omitempty"`
	}
	type job struct {
		JobName       string   `yaml:"job_name"`
		StaticConfigs []static `yaml:"static_configs"`
	}
	var jobs []*job
	byName := map[string]*job{}
	for _, t := range c.Targets {
		if err := checkLoopback(t.Addr); err != nil {
			return nil, err
		}
		j := byName[t.Job]
		if j == nil {
			j = &job{JobName: t.Job}
			byName[t.Job] = j
			jobs = append(jobs, j)
		}
		st := static{Targets: []string{t.Addr}}
		if t.Instance != "" {
			st.Labels = map[string]string{"instance": t.Instance}
		}
		j.StaticConfigs = append(j.StaticConfigs, st)
	}
	iv := c.ScrapeInterval.String()
	// A scrape must end before the next one starts.
	timeout := (c.ScrapeInterval * 9 / 10).String()
	return yaml.Marshal(map[string]any{
		"global":         map[string]string{"scrape_interval": iv, "evaluation_interval": iv, "scrape_timeout": timeout},
		"rule_files":     c.RuleFiles,
		"scrape_configs": jobs,
	})
}

func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/-/ready", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-s.done:
			s.done <- err // let Stop see it too
			return fmt.Errorf("promrun: prometheus exited before it was ready: %v", err)
		case <-ctx.Done():
			return fmt.Errorf("promrun: prometheus not ready: %w (last error %v)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop ends Prometheus: SIGTERM, then SIGKILL after 5 s.
func (s *Server) Stop() error {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		return nil
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
		return errors.New("promrun: prometheus ignored SIGTERM for 5s; killed")
	}
}

// Series is one series of an instant query's result: its labels and value.
type Series struct {
	Metric map[string]string
	Value  float64
}

// Query evaluates expr now. A scalar comes back as one unlabelled series.
func (s *Server) Query(ctx context.Context, expr string) ([]Series, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/api/v1/query",
		strings.NewReader(url.Values{"query": {expr}}.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
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
		return nil, fmt.Errorf("promrun: query %q: %w", expr, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("promrun: query %q: %s: %s", expr, body.ErrorType, body.Error)
	}
	if body.Data.ResultType == "scalar" {
		var sv [2]any
		if err := json.Unmarshal(body.Data.Result, &sv); err != nil {
			return nil, err
		}
		return []Series{{Value: parseValue(sv[1])}}, nil
	}
	var raw []struct {
		Metric map[string]string `json:"metric"`
		Value  [2]any            `json:"value"`
	}
	if err := json.Unmarshal(body.Data.Result, &raw); err != nil {
		return nil, fmt.Errorf("promrun: query %q: %s result: %w", expr, body.Data.ResultType, err)
	}
	out := make([]Series, len(raw))
	for i, r := range raw {
		out[i] = Series{Metric: r.Metric, Value: parseValue(r.Value[1])}
	}
	return out, nil
}

// parseValue reads the API's string-encoded sample value; ParseFloat
// takes its "NaN", "+Inf" and "-Inf" as they are.
func parseValue(v any) float64 {
	str, _ := v.(string)
	f, _ := strconv.ParseFloat(str, 64)
	return f
}

// Rule is one loaded rule and how its last evaluation went.
type Rule struct {
	Name      string `json:"name"`
	Type      string `json:"type"` // "recording" or "alerting"
	Health    string `json:"health"`
	LastError string `json:"lastError"`
	State     string `json:"state"` // alerting rules: inactive, pending, firing
}

// Rules lists every loaded rule.
func (s *Server) Rules(ctx context.Context) ([]Rule, error) {
	resp, err := s.get(ctx, "/api/v1/rules")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Groups []struct {
				Rules []Rule `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	var out []Rule
	for _, g := range body.Data.Groups {
		out = append(out, g.Rules...)
	}
	return out, nil
}

// get is a GET of Prometheus's path (the HTTP API's read-only calls);
// the caller closes the body.
func (s *Server) get(ctx context.Context, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+path, nil)
	if err != nil {
		return nil, err
	}
	return http.DefaultClient.Do(req)
}

// checkLoopback refuses anything but a loopback address: the testbed only
// ever scrapes and listens on 127.0.0.0/8 or ::1 (DESIGN.md, "The network").
func checkLoopback(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("promrun: %q: %w", hostport, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("promrun: %q is not a loopback address", hostport)
	}
	return nil
}

package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/dsbridge/dsbridge/dashboards"
	"github.com/dsbridge/dsbridge/dashboards/promrun"
)

// PrometheusRun is what a real Prometheus saw of the run (dsbridge bench
// --prometheus): where it was, how often it scraped, the window the gates'
// queries were evaluated over, and the alerts it held at the end.
type PrometheusRun struct {
	URL            string  `json:"url"` // only valid during the run; kept to match its log
	ScrapeInterval float64 `json:"scrape_interval_s"`
	Targets        int     `json:"targets"`
	// Window is the range of every gate's query: the whole run, from the
	// last scrape before the load to the first after it.
	Window string `json:"window"`
	// EvaluatedAt is when the queries ran (their evaluation time).
	EvaluatedAt time.Time `json:"evaluated_at"`
	// Alerts are the alerts pending or firing at the end.
	Alerts []promrun.Alert `json:"alerts"`
	// Error says what went wrong watching the run (the load itself may
	// still have been fine).
	Error string `json:"error,omitempty"`
}

// promScrapeInterval is Prometheus's scrape and rule evaluation interval in a
// bench run: runs last seconds to minutes, so the dashboards' usual 15 s
// would leave a short run with one or two samples.
const promScrapeInterval = time.Second

// startPrometheus starts a Prometheus scraping every bridge (job dsbridge,
// instance = its --instance-id, as prometheus.example.yml does) and sim (job
// ollamasim) of topo with dsbridge's rules, its config and TSDB under
// dir/prometheus and its output in dir/logs/prometheus.log, and waits until
// it has scraped every target once: the gates' rates need a sample from
// before the load.
func startPrometheus(ctx context.Context, topo *Topology, dir string) (*promrun.Server, int, error) {
	pdir := filepath.Join(dir, "prometheus")
	if err := os.MkdirAll(pdir, 0o755); err != nil {
		return nil, 0, err
	}
	rules, err := dashboards.WriteRules(pdir)
	if err != nil {
		return nil, 0, err
	}
	var targets []promrun.Target
	for _, m := range topo.Bridges {
		targets = append(targets, promrun.Target{Job: "dsbridge", Addr: m.Addr, Instance: m.Name})
	}
	for _, m := range topo.Sims {
		if !m.Scraped() {
			continue
		}
		targets = append(targets, promrun.Target{Job: "ollamasim", Addr: m.Addr})
	}
	logf, err := os.OpenFile(filepath.Join(dir, "logs", "prometheus.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, 0, err
	}
	// The log file stays open for Prometheus's life; the process holds its
	// own descriptor, so closing ours after Start loses nothing.
	defer logf.Close()
	srv, err := promrun.Start(ctx, promrun.Config{Dir: pdir, ScrapeInterval: promScrapeInterval, RuleFiles: rules, Targets: targets, Log: logf})
	if err != nil {
		return nil, 0, err
	}
	if err := waitScraped(ctx, srv, "up == 1", len(targets), time.Now()); err != nil {
		_ = srv.Stop()
		return nil, 0, err
	}
	return srv, len(targets), nil
}

// waitScraped waits until Prometheus holds, for n targets, an `up` sample
// matching sel ("up" for any scrape, "up == 1" for a successful one) taken
// after t, or 15 s pass.
func waitScraped(ctx context.Context, srv *promrun.Server, sel string, n int, t time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	q := fmt.Sprintf("count(timestamp(%s) >= %.3f)", sel, float64(t.UnixMilli())/1000)
	var last string
	for {
		s, err := srv.Query(ctx, q)
		got := 0.0
		if err == nil && len(s) == 1 {
			got = s[0].Value
		}
		if got >= float64(n) {
			return nil
		}
		last = fmt.Sprintf("%v of %d targets scraped (error %v)", got, n, err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("prometheus: waiting for a scrape of every target: %w; %s", ctx.Err(), last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// promWindow is the PromQL range covering a run of length d, rounded up to
// whole seconds.
func promWindow(d time.Duration) string {
	return fmt.Sprintf("%ds", int(math.Ceil(d.Seconds())))
}

// attachPromQL sets each gate's PromQL over window; gates Prometheus has no
// equivalent for (see dashboards.GatePromQL) keep an empty one.
func attachPromQL(gates []GateResult, window string) {
	for i := range gates {
		if q, ok := dashboards.GateThresholdPromQL(gates[i].Metric, gates[i].Threshold, window); ok {
			gates[i].PromQL = q
		}
	}
}

// evaluatePrometheus runs, after the load, every gate's query over the
// whole run against srv and records the alerts it holds. start is when the
// load started; the window reaches back one scrape interval before it, to
// the baseline sample startPrometheus waited for.
func evaluatePrometheus(ctx context.Context, srv *promrun.Server, res *Results, nTargets int, start time.Time) {
	pr := &PrometheusRun{URL: srv.URL, ScrapeInterval: promScrapeInterval.Seconds(), Targets: nTargets, Alerts: []promrun.Alert{}}
	res.Prometheus = pr
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var errs []error
	// Make sure the last requests' counts are in: wait for a scrape of
	// every target that started after the load ended. Any scrape counts: a
	// member a chaos event killed for good answers none.
	if err := waitScraped(ctx, srv, "up", nTargets, time.Now()); err != nil {
		errs = append(errs, err)
	}
	pr.EvaluatedAt = time.Now().UTC()
	pr.Window = promWindow(time.Since(start) + promScrapeInterval)
	attachPromQL(res.Gates, pr.Window)
	for i := range res.Gates {
		g := &res.Gates[i]
		if g.PromQL == "" {
			continue
		}
		v, err := queryScalar(ctx, srv, g.PromQL)
		if err != nil {
			g.PrometheusError = err.Error()
			continue
		}
		g.PrometheusValue = &v
	}
	alerts, err := srv.Alerts(ctx)
	if err != nil {
		errs = append(errs, fmt.Errorf("alerts: %w", err))
	}
	// Firing first, then by name, so the report reads the worst first.
	sort.SliceStable(alerts, func(i, j int) bool {
		if (alerts[i].State == "firing") != (alerts[j].State == "firing") {
			return alerts[i].State == "firing"
		}
		return alerts[i].Name < alerts[j].Name
	})
	if alerts != nil {
		pr.Alerts = alerts
	}
	if e := errors.Join(errs...); e != nil {
		pr.Error = e.Error()
	}
}

// queryScalar runs a gate's query, which sums everything into one series,
// and returns its finite value.
func queryScalar(ctx context.Context, srv *promrun.Server, q string) (float64, error) {
	s, err := srv.Query(ctx, q)
	switch {
	case err != nil:
		return 0, err
	case len(s) == 0:
		return 0, errors.New("no data: no series matched over the window")
	case len(s) > 1:
		return 0, fmt.Errorf("%d series, want 1", len(s))
	case math.IsNaN(s[0].Value) || math.IsInf(s[0].Value, 0):
		// histogram_quantile of empty buckets, or 0/0: no request of that
		// kind reached a bridge.
		return 0, fmt.Errorf("value %v: no observations over the window", s[0].Value)
	}
	return s[0].Value, nil
}

// FiringAlerts returns the names of the alerts firing at the end of the run.
func (p *PrometheusRun) FiringAlerts() []string {
	var out []string
	for _, a := range p.Alerts {
		if a.State == "firing" {
			out = append(out, a.Name)
		}
	}
	return out
}

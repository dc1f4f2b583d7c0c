package bench

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Threshold is one k6-style threshold expression, "<aggregation> <op> <value>":
// p(99)<500, p(95)<=200, rate<0.01, avg<200, max<3000, med<100, count>0,
// value>0. The syntax is k6's (https://grafana.com/docs/k6/latest/using-k6/thresholds/)
// so that people who know k6 read gates without a manual.
type Threshold struct {
	Source string  // as written
	Agg    string  // avg, min, max, med, count, rate, value, or p
	P      float64 // the percentile when Agg is "p"
	Op     string  // <, <=, >, >=, ==, !=
	Limit  float64
}

// ErrThresholdSyntax wraps every parse error, so callers can tell a typo in a
// scenario from a failed gate.
var ErrThresholdSyntax = errors.New("threshold syntax")

// ops is ordered longest first so that "<=" is not read as "<".
var ops = []string{"===", "<=", ">=", "==", "!=", "<", ">"}

// ParseThreshold parses one threshold expression.
func ParseThreshold(src string) (Threshold, error) {
	bad := func(format string, a ...any) (Threshold, error) {
		return Threshold{}, fmt.Errorf("%w: %q: %s", ErrThresholdSyntax, src, fmt.Sprintf(format, a...))
	}
	s := strings.TrimSpace(src)
	i, op := -1, ""
	for j := 0; j < len(s) && i < 0; j++ {
		for _, o := range ops {
			if strings.HasPrefix(s[j:], o) {
				i, op = j, o
				break
			}
		}
	}
	if i < 0 {
		return bad("no comparison; write it like p(99)<500 or rate<0.01")
	}
	agg := strings.TrimSpace(s[:i])
	lim := strings.TrimSpace(s[i+len(op):])
	if op == "===" {
		op = "==" // k6 accepts both; they mean the same on numbers
	}
	t := Threshold{Source: src, Op: op}
	switch {
	case agg == "":
		return bad("no aggregation before %q (avg, min, max, med, count, rate, value or p(N))", op)
	case strings.HasPrefix(agg, "p(") && strings.HasSuffix(agg, ")"):
		p, err := strconv.ParseFloat(strings.TrimSpace(agg[2:len(agg)-1]), 64)
		if err != nil || math.IsNaN(p) || p < 0 || p > 100 {
			return bad("percentile %q must be a number from 0 to 100", agg[2:len(agg)-1])
		}
		t.Agg, t.P = "p", p
	case agg == "avg" || agg == "min" || agg == "max" || agg == "med" || agg == "count" || agg == "rate" || agg == "value":
		t.Agg = agg
	default:
		return bad("unknown aggregation %q (avg, min, max, med, count, rate, value or p(N))", agg)
	}
	if lim == "" {
		return bad("no value after %q", op)
	}
	v, err := strconv.ParseFloat(lim, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return bad("%q is not a finite number", lim)
	}
	t.Limit = v
	return t, nil
}

// Holds reports whether the threshold holds for value.
func (t Threshold) Holds(v float64) bool {
	switch t.Op {
	case "<":
		return v < t.Limit
	case "<=":
		return v <= t.Limit
	case ">":
		return v > t.Limit
	case ">=":
		return v >= t.Limit
	case "==":
		return v == t.Limit
	case "!=":
		return v != t.Limit
	}
	return false
}

// String writes the threshold back in canonical form.
func (t Threshold) String() string {
	agg := t.Agg
	if agg == "p" {
		agg = "p(" + strconv.FormatFloat(t.P, 'f', -1, 64) + ")"
	}
	return agg + t.Op + strconv.FormatFloat(t.Limit, 'f', -1, 64)
}

// GateResult is one evaluated threshold, as results.json and the report show it.
type GateResult struct {
	Metric    string  `json:"metric"`
	Threshold string  `json:"threshold"`
	Value     float64 `json:"value"`
	Limit     float64 `json:"limit"`
	Pass      bool    `json:"pass"`
	// Margin is how far the value is from the limit, signed so that positive
	// is on the safe side: for p(99)<500 with 420 it is 80; with 530, -30.
	Margin float64 `json:"margin"`
	// MarginPct is Margin relative to the limit (0 when the limit is 0).
	MarginPct float64 `json:"margin_pct"`
	Unit      string  `json:"unit,omitempty"`
	Error     string  `json:"error,omitempty"`
	// PromQL is the query an operator would watch this gate with, over the
	// run's length (dashboards.GateThresholdPromQL); empty where Prometheus
	// has no equivalent (min/max, failover_time, knee_qps, tokens_per_second).
	PromQL string `json:"promql,omitempty"`
	// PrometheusValue is PromQL evaluated at the end of the run against the
	// Prometheus that scraped it (--prometheus), in the gate's unit; nil
	// without one, or with PrometheusError saying why not.
	PrometheusValue *float64 `json:"prometheus_value,omitempty"`
	PrometheusError string   `json:"prometheus_error,omitempty"`
}

// Aggregator gives a metric's aggregate; it returns an error for a metric it
// does not know or an aggregation that makes no sense for it.
type Aggregator interface {
	Aggregate(metric string, t Threshold) (value float64, unit string, err error)
}

// EvaluateGates parses and evaluates every gate, sorted by metric then as
// written. A gate that cannot be evaluated fails (with Error set): a gate
// nobody can check must not pass silently. The error is non-nil only for
// syntax errors, which mean the scenario is broken rather than the system.
func EvaluateGates(gates map[string][]string, agg Aggregator) ([]GateResult, error) {
	metrics := make([]string, 0, len(gates))
	for m := range gates {
		metrics = append(metrics, m)
	}
	sort.Strings(metrics)
	var out []GateResult
	var errs []error
	for _, m := range metrics {
		for _, src := range gates[m] {
			t, err := ParseThreshold(src)
			if err != nil {
				errs = append(errs, fmt.Errorf("gates.%s: %w", m, err))
				continue
			}
			r := GateResult{Metric: m, Threshold: t.String(), Limit: t.Limit}
			v, unit, err := agg.Aggregate(m, t)
			if err != nil {
				r.Error = err.Error()
				out = append(out, r)
				continue
			}
			r.Value, r.Unit, r.Pass = v, unit, t.Holds(v)
			r.Margin = margin(t, v)
			if t.Limit != 0 {
				r.MarginPct = 100 * r.Margin / math.Abs(t.Limit)
			}
			out = append(out, r)
		}
	}
	return out, errors.Join(errs...)
}

// margin is the signed distance to the limit, positive on the safe side.
func margin(t Threshold, v float64) float64 {
	switch t.Op {
	case "<", "<=":
		return t.Limit - v
	case ">", ">=":
		return v - t.Limit
	case "==":
		return -math.Abs(v - t.Limit)
	}
	return math.Abs(v - t.Limit)
}

// ValidateGates checks the syntax of every threshold without evaluating.
func ValidateGates(gates map[string][]string) error {
	var errs []error
	for m, ths := range gates {
		for _, src := range ths {
			if _, err := ParseThreshold(src); err != nil {
				errs = append(errs, fmt.Errorf("gates.%s: %w", m, err))
			}
		}
	}
	return errors.Join(errs...)
}

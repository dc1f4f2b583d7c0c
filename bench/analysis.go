package bench

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/dsbridge/dsbridge/scenarios"
)

// dist summarises an HDR histogram of microseconds in milliseconds (scale
// 1000), or of thousandths in units (tokens/s, also 1000).
func dist(h *hdr.Histogram) Dist {
	if h.TotalCount() == 0 {
		return Dist{}
	}
	f := func(v int64) float64 { return float64(v) / 1000 }
	return Dist{P50: f(h.ValueAtQuantile(50)), P90: f(h.ValueAtQuantile(90)), P95: f(h.ValueAtQuantile(95)),
		P99: f(h.ValueAtQuantile(99)), P999: f(h.ValueAtQuantile(99.9)), Max: f(h.Max()), Min: f(h.Min()),
		Avg: h.Mean() / 1000, Count: h.TotalCount()}
}

// FailoverTime is how long a fault at atS kept hurting requests: from the
// injection until the end of the last hurt request (failed, or slower than
// the SLO's P99) in the chain that starts at the fault, where the chain
// breaks after a full second in which no hurt request was sent. Requests in
// flight when the fault struck count (a hang holds them), and a lone slow
// request long after the fault, noise on a shared machine, does not. Zero
// when nothing was hurt; the search stops at endS (the next fault or the end
// of the run).
func FailoverTime(bad []Span, atS, endS float64) float64 {
	at := time.Duration(atS * float64(time.Second))
	end := time.Duration(endS * float64(time.Second))
	spans := slices.Clone(bad)
	slices.SortFunc(spans, func(a, b Span) int { return cmp.Compare(a.Start, b.Start) })
	reach := at // the chain's end so far
	for _, s := range spans {
		if s.End <= at || s.Start >= end {
			continue // over before the fault, or after the window
		}
		if s.Start > reach+time.Second {
			break // a clean second: the fault's effect is over
		}
		reach = max(reach, s.End)
	}
	return float64(reach-at) / float64(time.Millisecond)
}

// Knee is the highest load that still met the SLO in a rising-rate run.
type Knee struct {
	// QPS is the successful requests per second sustained just before the
	// SLO broke (the mean over the three seconds before).
	QPS float64 `json:"qps"`
	// RequestedQPS is the requested rate at that point.
	RequestedQPS float64 `json:"requested_qps"`
	P99Ms        float64 `json:"p99_ms"`
	AtS          float64 `json:"at_s"`
	// Reached is false when the SLO held to the end: QPS is then a lower
	// bound, and the ramp should go higher.
	Reached bool `json:"reached"`
	// MeanLatencyMs at the knee, for Little's law in the plan.
	MeanLatencyMs float64 `json:"mean_latency_ms"`
	Reason        string  `json:"reason"`
}

// FindKnee scans the timeline for the first second from which three
// consecutive seconds break the SLO (P99, error rate, or the system no longer
// completing what was asked: fewer than 90 % of the requested rate), and
// reports the load sustained just before it. Three seconds, so that one noisy
// second on a shared machine does not set the knee.
func FindKnee(tl []TimelinePoint, slo scenarios.SLO) (*Knee, error) {
	if len(tl) < 4 {
		return nil, errors.New("knee: need at least 4 seconds of timeline")
	}
	bad := func(p TimelinePoint) string {
		switch {
		case p.Count == 0:
			return ""
		case float64(p.Failed)/float64(p.Count) > slo.ErrorRate:
			return fmt.Sprintf("error rate %.2f%% > %.2f%%", 100*float64(p.Failed)/float64(p.Count), 100*slo.ErrorRate)
		case p.P99Ms > slo.P99Ms:
			return fmt.Sprintf("P99 %.0f ms > %.0f ms", p.P99Ms, slo.P99Ms)
		case p.RateRequested > 0 && float64(p.Count) < 0.9*p.RateRequested:
			return fmt.Sprintf("sent %d of %.0f requested", p.Count, p.RateRequested)
		}
		return ""
	}
	// The last second is partial; leave it out.
	n := len(tl) - 1
	for s := 1; s+2 < n; s++ {
		r := bad(tl[s])
		if r == "" || bad(tl[s+1]) == "" || bad(tl[s+2]) == "" {
			continue
		}
		k := sustained(tl[max(0, s-3):s], bad)
		k.AtS, k.Reached, k.Reason = float64(s), true, r
		return k, nil
	}
	k := sustained(tl[max(0, n-3):n], bad)
	k.AtS, k.Reached, k.Reason = float64(n), false, "the SLO held to the end of the ramp"
	return k, nil
}

// sustained averages successful throughput over the seconds among ws that
// met the SLO (none: zero, the SLO was never met).
func sustained(all []TimelinePoint, bad func(TimelinePoint) string) *Knee {
	k := &Knee{}
	var ws []TimelinePoint
	for _, w := range all {
		if bad(w) == "" {
			ws = append(ws, w)
		}
	}
	if len(ws) == 0 {
		return k
	}
	var ok, req, p99, p50 float64
	for _, w := range ws {
		ok += float64(w.Count - w.Failed)
		req += w.RateRequested
		p99 = math.Max(p99, w.P99Ms)
		p50 += w.P50Ms
	}
	n := float64(len(ws))
	k.QPS, k.RequestedQPS, k.P99Ms, k.MeanLatencyMs = ok/n, req/n, p99, p50/n
	return k
}

// disruptive says whether an action is expected to disturb traffic, and so
// gets a failover time.
func disruptive(action string) bool {
	return slices.Contains([]string{"kill", "pause", "stop", "network", "sim_fault", "rolling_restart",
		"container_pause", "partition", "cpu_limit", "oom"}, action)
}

package bench

import (
	"errors"
	"fmt"
	"math"
	"slices"

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

// healthy says whether one second was back to normal after a fault: no
// failure at all (a failover is about errors, not a rate) and a P99 within
// the SLO.
func healthy(w WindowStats, slo scenarios.SLO) bool {
	return w.Failed == 0 && w.P99Ms <= slo.P99Ms
}

// FailoverTime is the time from a fault at atS until requests are healthy
// again: the start of the first two consecutive one-second windows (by
// intended send time) with no failure and a P99 within the SLO, searched up
// to endS. Zero when the fault never showed; -1 when health never came back
// before endS. Windows are what requests sent in that second experienced, so
// a hang shows in the seconds whose requests waited on it.
func FailoverTime(ws []WindowStats, atS, endS float64, slo scenarios.SLO) float64 {
	start := int(math.Floor(atS))
	end := min(int(math.Ceil(endS)), len(ws))
	for s := start; s < end; s++ {
		if !healthy(ws[s], slo) {
			continue
		}
		if s+1 < end && !healthy(ws[s+1], slo) {
			continue
		}
		// The second holding atS counts from atS, not from its start.
		return math.Max(0, float64(s)-atS) * 1000
	}
	return -1
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
		k := sustained(tl[max(0, s-3):s])
		k.AtS, k.Reached, k.Reason = float64(s), true, r
		return k, nil
	}
	k := sustained(tl[max(0, n-3):n])
	k.AtS, k.Reached, k.Reason = float64(n), false, "the SLO held to the end of the ramp"
	return k, nil
}

// sustained averages successful throughput over a few seconds.
func sustained(ws []TimelinePoint) *Knee {
	k := &Knee{}
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
	return slices.Contains([]string{"kill", "pause", "network", "sim_fault", "rolling_restart"}, action)
}

package bench

import (
	"fmt"
	"slices"
	"sort"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Metrics names the gateable metrics, k6's names where k6 has one:
//
//	http_req_duration  trend, ms   end-to-end latency from the intended send time
//	http_req_failed    rate        failed requests ÷ requests
//	http_reqs          counter     count, or rate per second
//	ttft               trend, ms   time to first token
//	itl                trend, ms   mean inter-token latency per request
//	tokens_per_second  trend       output speed per request
//	failover_time      trend, ms   per disruptive chaos event (see FailoverTime)
//	knee_qps           value       sustained req/s at the knee (rising-rate runs)
func Metrics() []string {
	return []string{"failover_time", "http_req_duration", "http_req_failed", "http_reqs", "itl", "knee_qps", "tokens_per_second", "ttft"}
}

// runMetrics answers gates from a finished run.
type runMetrics struct {
	snap      Snapshot
	durationS float64
	failover  []float64 // ms, one per disruptive event
	knee      *Knee
}

// Aggregate implements Aggregator.
func (m runMetrics) Aggregate(metric string, t Threshold) (float64, string, error) {
	switch metric {
	case "http_req_duration":
		return trend(m.snap.Latency, t, 1000, "ms")
	case "ttft":
		return trend(m.snap.TTFT, t, 1000, "ms")
	case "itl":
		return trend(m.snap.ITL, t, 1000, "ms")
	case "tokens_per_second":
		return trend(m.snap.TPS, t, 1000, "tok/s")
	case "http_req_failed":
		switch t.Agg {
		case "rate":
			if m.snap.Total == 0 {
				return 0, "", fmt.Errorf("no requests were sent")
			}
			return float64(m.snap.Failed) / float64(m.snap.Total), "", nil
		case "count":
			return float64(m.snap.Failed), "", nil
		}
	case "http_reqs":
		switch t.Agg {
		case "count":
			return float64(m.snap.Total), "", nil
		case "rate":
			if m.durationS <= 0 {
				return 0, "", fmt.Errorf("run has no duration")
			}
			return float64(m.snap.Total) / m.durationS, "req/s", nil
		}
	case "failover_time":
		if len(m.failover) == 0 {
			return 0, "", fmt.Errorf("no disruptive chaos event in this run")
		}
		return sliceAgg(m.failover, t, "ms")
	case "knee_qps":
		if m.knee == nil {
			return 0, "", fmt.Errorf("no knee: this run is too short or is not a ramp")
		}
		if t.Agg == "value" {
			return m.knee.QPS, "req/s", nil
		}
	default:
		return 0, "", fmt.Errorf("unknown metric %q (known: %v)", metric, Metrics())
	}
	return 0, "", fmt.Errorf("%s has no %q aggregation", metric, t.Agg)
}

// trend aggregates an HDR histogram holding values × scale.
func trend(h *hdr.Histogram, t Threshold, scale float64, unit string) (float64, string, error) {
	if t.Agg != "count" && h.TotalCount() == 0 {
		return 0, "", fmt.Errorf("no samples")
	}
	switch t.Agg {
	case "avg":
		return h.Mean() / scale, unit, nil
	case "min":
		return float64(h.Min()) / scale, unit, nil
	case "max":
		return float64(h.Max()) / scale, unit, nil
	case "med":
		return float64(h.ValueAtQuantile(50)) / scale, unit, nil
	case "p":
		return float64(h.ValueAtQuantile(t.P)) / scale, unit, nil
	case "count":
		return float64(h.TotalCount()), "", nil
	}
	return 0, "", fmt.Errorf("a trend has no %q aggregation (avg, min, max, med, p(N), count)", t.Agg)
}

// sliceAgg aggregates a handful of values exactly.
func sliceAgg(vs []float64, t Threshold, unit string) (float64, string, error) {
	s := slices.Clone(vs)
	sort.Float64s(s)
	switch t.Agg {
	case "max":
		return s[len(s)-1], unit, nil
	case "min":
		return s[0], unit, nil
	case "avg":
		var sum float64
		for _, v := range s {
			sum += v
		}
		return sum / float64(len(s)), unit, nil
	case "med":
		return s[len(s)/2], unit, nil
	case "p":
		i := int(t.P / 100 * float64(len(s)-1))
		return s[i], unit, nil
	case "count":
		return float64(len(s)), "", nil
	}
	return 0, "", fmt.Errorf("failover_time has no %q aggregation", t.Agg)
}

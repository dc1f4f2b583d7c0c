package dashboards

import (
	"fmt"
	"strconv"
	"strings"
)

// GatePromQL returns the PromQL an operator would use to watch a bench gate
// on a live deployment, in the gate's unit (milliseconds for latencies), over
// window (a PromQL duration such as "5m"). metric is a gate metric of the
// bench (k6's names where k6 has one) and agg the threshold's aggregation:
// "p(99)", "med", "avg", "rate", "count". ok is false where Prometheus has no
// equivalent: min/max of a latency (histograms keep buckets, not samples),
// per-chaos-event failover time, the knee of a ramp, per-request token speed.
//
// Only client traffic counts (apiRoutes), as in the recording rules.
// The bench measures from the client, the query from the bridges: a gate on
// http_req_failed counts client-side errors (timeouts, refused connections)
// that never reached a bridge, and the query counts 5xx answers only.
func GatePromQL(metric, agg, window string) (expr string, ok bool) {
	hist := map[string]string{
		"http_req_duration": "bridge_request_duration_seconds",
		"ttft":              "bridge_time_to_first_token_seconds",
		"itl":               "bridge_inter_token_latency_seconds",
	}
	if h, isHist := hist[metric]; isHist {
		if agg == "med" {
			agg = "p(50)"
		}
		switch {
		case strings.HasPrefix(agg, "p(") && strings.HasSuffix(agg, ")"):
			p, err := strconv.ParseFloat(agg[2:len(agg)-1], 64)
			if err != nil || p <= 0 || p >= 100 {
				return "", false
			}
			return fmt.Sprintf(`1000 * histogram_quantile(%s, sum by (le) (rate(%s_bucket{%s}[%s])))`,
				strconv.FormatFloat(p/100, 'f', -1, 64), h, apiRoutes, window), true
		case agg == "avg":
			return fmt.Sprintf(`1000 * sum(rate(%s_sum{%s}[%s])) / sum(rate(%s_count{%s}[%s]))`, h, apiRoutes, window, h, apiRoutes, window), true
		}
		return "", false
	}
	switch metric + " " + agg {
	case "http_req_failed rate":
		return fmt.Sprintf(`(sum(rate(bridge_requests_total{%s, code=~"5.."}[%s])) or vector(0)) / sum(rate(bridge_requests_total{%s}[%s]))`, apiRoutes, window, apiRoutes, window), true
	case "http_req_failed count":
		return fmt.Sprintf(`sum(increase(bridge_requests_total{%s, code=~"5.."}[%s])) or vector(0)`, apiRoutes, window), true
	case "http_reqs rate":
		return fmt.Sprintf(`sum(rate(bridge_requests_total{%s}[%s]))`, apiRoutes, window), true
	case "http_reqs count":
		return fmt.Sprintf(`sum(increase(bridge_requests_total{%s}[%s]))`, apiRoutes, window), true
	}
	return "", false
}

// GateThresholdPromQL is GatePromQL for a gate as the bench and k6 write it:
// a threshold such as "p(99)<500" or "rate<0.01", whose aggregation is
// everything before the comparison.
func GateThresholdPromQL(metric, threshold, window string) (expr string, ok bool) {
	i := strings.IndexAny(threshold, "<>=!")
	if i < 0 {
		return "", false
	}
	return GatePromQL(metric, strings.TrimSpace(threshold[:i]), window)
}

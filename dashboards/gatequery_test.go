package dashboards

import (
	"fmt"
	"testing"
)

// Each row: a bench gate and the PromQL that watches it (or none).
func TestGatePromQL(t *testing.T) {
	for _, tc := range []struct {
		metric, agg string
		want        string // "" means no PromQL equivalent
	}{
		// The seed's P99 < 500 ms gate, in ms like the gate.
		{"http_req_duration", "p(99)", `1000 * histogram_quantile(0.99, sum by (le) (rate(bridge_request_duration_seconds_bucket{route!~"health|ready|metrics|pprof|admin_.*"}[5m])))`},
		// med is p(50), as in k6.
		{"ttft", "med", `1000 * histogram_quantile(0.5, sum by (le) (rate(bridge_time_to_first_token_seconds_bucket{route!~"health|ready|metrics|pprof|admin_.*"}[5m])))`},
		// The seed's mean latency, fleet-wide.
		{"http_req_duration", "avg", `1000 * sum(rate(bridge_request_duration_seconds_sum{route!~"health|ready|metrics|pprof|admin_.*"}[5m])) / sum(rate(bridge_request_duration_seconds_count{route!~"health|ready|metrics|pprof|admin_.*"}[5m]))`},
		// success > 99 % is rate<0.01 on failures; no 5xx yet is 0, not no data.
		{"http_req_failed", "rate", `(sum(rate(bridge_requests_total{route!~"health|ready|metrics|pprof|admin_.*", code=~"5.."}[5m])) or vector(0)) / sum(rate(bridge_requests_total{route!~"health|ready|metrics|pprof|admin_.*"}[5m]))`},
		{"http_reqs", "rate", `sum(rate(bridge_requests_total{route!~"health|ready|metrics|pprof|admin_.*"}[5m]))`},
		// A histogram has no max; the gate stays the bench's own.
		{"http_req_duration", "max", ""},
		// Out-of-range percentile.
		{"http_req_duration", "p(100)", ""},
		// Measured per chaos event by the bench only.
		{"failover_time", "p(99)", ""},
		{"knee_qps", "value", ""},
	} {
		got, ok := GatePromQL(tc.metric, tc.agg, "5m")
		if ok != (tc.want != "") || got != tc.want {
			t.Errorf("GatePromQL(%s, %s) = %q, %v; want %q", tc.metric, tc.agg, got, ok, tc.want)
		}
	}
}

func ExampleGatePromQL() {
	q, _ := GatePromQL("http_req_duration", "p(99)", "5m")
	fmt.Println(q)
	// Output: 1000 * histogram_quantile(0.99, sum by (le) (rate(bridge_request_duration_seconds_bucket{route!~"health|ready|metrics|pprof|admin_.*"}[5m])))
}

// The bench's gates are k6 threshold strings; each row names the
// GatePromQL aggregation it must come to ("" for none).
func TestGateThresholdPromQL(t *testing.T) {
	for _, tc := range []struct {
		metric, threshold, agg string
	}{
		{"http_req_duration", "p(99)<500", "p(99)"},
		{"http_req_duration", "p(95) <= 300", "p(95)"}, // spaces around the operator
		{"http_req_failed", "rate<0.01", "rate"},
		{"http_reqs", "count>=100", "count"},
		{"http_req_duration", "max<2000", ""}, // no max from a histogram
		{"http_req_duration", "p(99)", ""},    // no comparison
	} {
		got, ok := GateThresholdPromQL(tc.metric, tc.threshold, "5m")
		want, wantOK := "", false
		if tc.agg != "" {
			want, wantOK = GatePromQL(tc.metric, tc.agg, "5m")
		}
		if ok != wantOK || got != want {
			t.Errorf("GateThresholdPromQL(%s, %q) = %q, %v; want %q, %v", tc.metric, tc.threshold, got, ok, want, wantOK)
		}
	}
}

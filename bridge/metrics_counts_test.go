package bridge_test

import (
	"github.com/dsbridge/dsbridge/internal/testproc"
	"net/http"
	"testing"
	"time"
)

// Issue 5's done-when: after known traffic the counters hold exact values.
// Ten chats go to a real bridge in front of two real sims, the second a
// backup. The backup makes the count deterministic: the primary is the only
// first choice, so with no faults it serves all, and when it answers 503 the
// retry can only go to the backup. Nine clean chats, then one with the
// primary faulted: 10 requests, 11 upstream attempts, 1 retry, 1 failover.
func TestMetricsExactCountsAfterOneFailover(t *testing.T) {
	t.Parallel()
	primary, backup := startSim(t), startSim(t)
	br, _ := startBridge(t, upstreamsYAML([]string{primary.URL, backup.URL}, "", "backup: true"))
	send := func(i int) {
		t.Helper()
		code, body, err := post(t, http.DefaultClient, br.URL+"/api/chat", chatBody(false, 2))
		if err != nil || code != 200 {
			t.Fatalf("request %d: %d %v %s", i, code, err, body)
		}
	}
	for i := 0; i < 9; i++ {
		send(i)
	}
	setFaults(t, primary, `{"kind":"error","status":503,"probability":1,"paths":["/api/chat"]}`)
	send(9)
	setFaults(t, primary, "")

	for _, c := range []struct {
		name  string
		match []string
		want  float64
	}{
		{"bridge_requests_total", []string{`route="chat"`}, 10},
		{"bridge_requests_total", []string{`route="chat"`, `code="200"`}, 10},
		{"bridge_upstream_requests_total", nil, 11},
		{"bridge_upstream_requests_total", []string{primary.URL, `outcome="success"`}, 9},
		{"bridge_upstream_requests_total", []string{primary.URL, `outcome="failure"`}, 1},
		{"bridge_upstream_requests_total", []string{backup.URL, `outcome="success"`}, 1},
		{"bridge_retries_total", nil, 1},
		{"bridge_failovers_total", nil, 1},
		// The one failure was the 503, and nothing else counted against anyone.
		{"bridge_upstream_failures_total", []string{primary.URL, `reason="status_5xx"`}, 1},
		{"bridge_upstream_failures_total", nil, 1},
		{"bridge_request_duration_seconds_count", nil, 10},
	} {
		if got := metricValue(t, br.URL, c.name, c.match...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.match, got, c.want)
		}
	}
	// The primary served the model, so its next /api/ps poll shows it loaded.
	testproc.Eventually(t, 5*time.Second, "primary's loaded model counted", func() bool {
		return metricValue(t, br.URL, "bridge_upstream_models_loaded", primary.URL) == 1
	})
}

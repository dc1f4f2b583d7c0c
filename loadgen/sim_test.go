package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/dsbridge/dsbridge/internal/testproc"
)

// These tests drive the real simulator process (dsbridge sim), the upstream
// the bench harness uses: the generator's honesty is checked against what a
// bridge will be measured with, not only against an in-process fake.

func startSim(t *testing.T, args ...string) *testproc.Proc {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the simulator and runs seconds of load")
	}
	return testproc.Start(t, "sim", "/", append([]string{"--parallel", "64", "--models", "tiny"}, args...)...)
}

// simFaults replaces the simulator's active faults (body "" clears them).
func simFaults(t *testing.T, sim *testproc.Proc, body string) {
	t.Helper()
	method := http.MethodPost
	if body == "" {
		method = http.MethodDelete
	}
	req, _ := http.NewRequest(method, sim.URL+"/sim/faults", bytes.NewBufferString(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("%s /sim/faults: %s", method, resp.Status)
	}
}

// TestSimRateHonest: issue 4's bound against the real simulator with no
// modelled delay: 1000/s for 5 s sends 5000 ± 1 % at a rate within 1 %.
func TestSimRateHonest(t *testing.T) {
	sim := startSim(t, "--profile", "instant")
	retryOnce(t, func() (bool, string) {
		rs, err := Run(context.Background(), Config{Target: sim.URL, Pacer: ConstantPacer(1000), Duration: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return rateHonest(rs, 5000, 1000)
	})
}

// TestSimFixedLatency: with the simulator's latency fault at 50 ms on every
// request, P50 is 50–55 ms.
func TestSimFixedLatency(t *testing.T) {
	sim := startSim(t, "--profile", "instant")
	simFaults(t, sim, `{"faults":[{"kind":"latency","delay":"50ms"}]}`)
	retryOnce(t, func() (bool, string) {
		rs, err := Run(context.Background(), Config{Target: sim.URL, Pacer: ConstantPacer(200), Duration: 3 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		p50 := rs.Latency.P50
		return p50 >= 50 && p50 <= 55 && rs.Requests.Failed == 0,
			fmt.Sprintf("P50 %.2fms (want 50–55), p99 %.2fms, %d failed %v, loadavg %.1f", p50, rs.Latency.P99, rs.Requests.Failed, rs.ErrorSample, rs.Generator.LoadAvg1)
	})
}

// TestSimStallOpenVsClosed: every request arriving during one second hangs
// a second before its first byte. The open model's P99 shows it; the closed
// model's does not (its users stop sending while they wait).
func TestSimStallOpenVsClosed(t *testing.T) {
	// Enough slots that the hung requests do not queue the others: the
	// stall is the upstream's, not its scheduler's.
	sim := startSim(t, "--profile", "instant", "--parallel", "2000")
	run := func(cfg Config) *Results {
		simFaults(t, sim, "")
		cfg.Target, cfg.Duration = sim.URL, 4*time.Second
		timer := time.AfterFunc(1500*time.Millisecond, func() {
			simFaults(t, sim, `{"faults":[{"kind":"hang_before_first_byte","duration":"1s","probability":1}]}`)
			time.AfterFunc(time.Second, func() { simFaults(t, sim, "") })
		})
		defer timer.Stop()
		rs, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	open := run(Config{Pacer: ConstantPacer(200)})
	closed := run(Config{Users: 4, ThinkTime: 2 * time.Millisecond})
	t.Logf("open:   %5d requests, p50 %7.1fms p90 %7.1fms p99 %7.1fms max %7.1fms", open.Requests.Total, open.Latency.P50, open.Latency.P90, open.Latency.P99, open.Latency.Max)
	t.Logf("closed: %5d requests, p50 %7.1fms p90 %7.1fms p99 %7.1fms max %7.1fms", closed.Requests.Total, closed.Latency.P50, closed.Latency.P90, closed.Latency.P99, closed.Latency.Max)
	if open.Latency.P99 < 900 {
		t.Errorf("open model P99 %.1fms: the stall does not show", open.Latency.P99)
	}
	if closed.Latency.Max < 900 || closed.Latency.P99 > 200 {
		t.Errorf("closed model max %.1fms, P99 %.1fms: want it to meet the stall and hide it", closed.Latency.Max, closed.Latency.P99)
	}
}

// TestSimTokenTiming: the simulator with fixed token timing (30 ms to the
// first token, 100 tokens/s = 10 ms between tokens, nothing else) and the
// generator's TTFT and ITL agree, on both stream formats.
func TestSimTokenTiming(t *testing.T) {
	sim := startSim(t, "--profile", "instant", "--ttft", "30ms", "--tokens-per-second", "100")
	mix, err := ParseMix([]byte("requests:\n  - endpoint: /api/chat\n    max_tokens: 8\n  - endpoint: /v1/chat/completions\n    max_tokens: 8\n"))
	if err != nil {
		t.Fatal(err)
	}
	retryOnce(t, func() (bool, string) {
		rs, err := Run(context.Background(), Config{Target: sim.URL, Mix: mix, Pacer: ConstantPacer(50), Duration: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		ok := rs.TTFT.P50 >= 30 && rs.TTFT.P50 <= 36 && rs.ITL.P50 >= 9.5 && rs.ITL.P50 <= 11.5 && rs.Requests.Failed == 0
		return ok, fmt.Sprintf("TTFT p50 %.2fms (want 30–36), ITL p50 %.2fms (want 9.5–11.5), tokens/request %.1f, failed %d %v",
			rs.TTFT.P50, rs.ITL.P50, rs.Tokens.PerRequest, rs.Requests.Failed, rs.ErrorSample)
	})
}

// TestSimFaultKinds: the simulator's faults come out as the error kinds
// the results report, on both stream formats.
func TestSimFaultKinds(t *testing.T) {
	sim := startSim(t, "--profile", "instant")
	mix, err := ParseMix([]byte("requests:\n  - endpoint: /api/chat\n    max_tokens: 8\n  - endpoint: /v1/chat/completions\n    max_tokens: 8\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		fault  string
		kind   ErrorKind // "" = no failure
		noDone bool
	}{
		{`{"kind":"cut_stream","after_tokens":3}`, KindStreamCut, false},
		{`{"kind":"error_line","after_tokens":3}`, KindStreamError, false},
		{`{"kind":"error","status":503,"message":"server busy"}`, KindHTTP5xx, false},
		{`{"kind":"no_done"}`, "", true},
	} {
		simFaults(t, sim, `{"faults":[`+tc.fault+`]}`)
		rs, err := Run(context.Background(), Config{Target: sim.URL, Model: "tiny", Mix: mix, Pacer: ConstantPacer(40), Duration: 500 * time.Millisecond, Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		q := rs.Requests
		switch {
		case tc.kind != "" && (rs.Errors[tc.kind] != q.Total || q.Total != 20):
			t.Errorf("%s: %d requests, errors %v (%v); want all 20 %s", tc.fault, q.Total, rs.Errors, rs.ErrorSample, tc.kind)
		case tc.kind == "" && (q.Failed != 0 || q.NoDone != q.Total):
			t.Errorf("%s: %d failed %v, %d of %d without final line; want none failed, all without", tc.fault, q.Failed, rs.ErrorSample, q.NoDone, q.Total)
		}
	}
	simFaults(t, sim, "")
}

package loadgen

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
)

// TestRunRateHonest: at 1000/s for 5 s against an instant server the
// generator sends 5000 ± 1 % requests at an achieved rate within 1 %
// (issue 4, "Done when").
func TestRunRateHonest(t *testing.T) {
	if testing.Short() {
		t.Skip("5 s of load")
	}
	srv := (&fakeOllama{Tokens: 4}).start(t)
	retryOnce(t, func() (bool, string) {
		rs, err := Run(context.Background(), Config{Target: srv.URL, Pacer: ConstantPacer(1000), Duration: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return rateHonest(rs, 5000, 1000)
	})
}

// rateHonest checks a run sent wantN ± 1 % requests at wantRate ± 1 %,
// without failures.
func rateHonest(rs *Results, wantN int64, wantRate float64) (bool, string) {
	q := rs.Requests
	dn := float64(q.Total-wantN) / float64(wantN)
	dr := (q.RateAchieved - wantRate) / wantRate
	ok := dn >= -0.01 && dn <= 0.01 && dr >= -0.01 && dr <= 0.01 && q.Failed == 0
	return ok, fmt.Sprintf("sent %d (want %d ± 1%%; scheduled %d, late %d, dropped %d, failed %d %v), achieved %.2f/s (want %.0f ± 1%%), send delay p50 %.3fms p99 %.3fms, cpu %.2fs, loadavg %.2f",
		q.Total, wantN, q.Scheduled, q.Late, q.Dropped, q.Failed, rs.Errors, q.RateAchieved, wantRate,
		rs.SendDelay.P50, rs.SendDelay.P99, rs.Generator.CPUSeconds, rs.Generator.LoadAvg1)
}

// TestRunFixedLatency: against an upstream that always takes 50 ms, P50 is
// 50–55 ms (issue 4). Retried once: the bound is the spec, the machine is
// shared, and a single descheduling of the test process can move P50.
func TestRunFixedLatency(t *testing.T) {
	srv := (&fakeOllama{Delay: 50 * time.Millisecond, Tokens: 1}).start(t)
	retryOnce(t, func() (bool, string) {
		rs, err := Run(context.Background(), Config{Target: srv.URL, Pacer: ConstantPacer(200), Duration: 3 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		p50 := rs.Latency.P50
		return p50 >= 50 && p50 <= 55 && rs.Requests.Failed == 0,
			fmt.Sprintf("P50 %.2fms (want 50–55), p99 %.2fms, %d failed, loadavg %.1f", p50, rs.Latency.P99, rs.Requests.Failed, rs.Generator.LoadAvg1)
	})
}

// retryOnce runs a timing measurement and, if it misses its bound, once
// more, logging both: a noisy neighbour gets one excuse, not two.
//
// If the second try misses too while the machine is grossly oversubscribed
// (a load average above overloaded × its cores, measured around the run),
// the bound cannot be checked here and the test is skipped, loudly, with
// the figures: failing it would say nothing about the generator. Below that
// load a miss fails. The timing tests do not run in parallel with each
// other (other packages' tests may run beside them).
func retryOnce(t *testing.T, measure func() (ok bool, detail string)) {
	t.Helper()
	ok, detail := measure()
	t.Log(detail)
	if ok {
		return
	}
	t.Log("out of bounds; measuring once more (shared machine)")
	before := loadAvg1()
	ok, detail = measure()
	t.Log(detail)
	if ok {
		return
	}
	limit := overloaded * float64(runtime.NumCPU())
	// CI (DSBRIDGE_REQUIRE_TOOLS) runs on a machine of its own: a miss fails there.
	if load := max(before, loadAvg1()); load > limit && os.Getenv("DSBRIDGE_REQUIRE_TOOLS") == "" {
		t.Skipf("SKIPPED, NOT PASSED: missed the bound twice with the machine at load average %.1f (> %.0f on %d cores): %s",
			load, limit, runtime.NumCPU(), detail)
	}
	t.Error(detail)
}

// overloaded is the load average per core above which timing bounds are
// not checkable on a shared machine.
const overloaded = 4

// TestRunStallOpenVsClosed: a one-second upstream stall mid-run shows in
// the open model's P99 (the arrivals due during the stall each wait out the
// rest of it), while a closed model hides it: its few users sit out the
// stall with one request each and the count of slow requests stays under 1 %.
func TestRunStallOpenVsClosed(t *testing.T) {
	run := func(cfg Config) *Results {
		f := &fakeOllama{Tokens: 1}
		cfg.Target = f.start(t).URL
		cfg.Duration = 4 * time.Second
		go func() {
			time.Sleep(1500 * time.Millisecond)
			f.stall(time.Second)
		}()
		rs, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	open := run(Config{Pacer: ConstantPacer(200)})
	closed := run(Config{Users: 4, ThinkTime: 2 * time.Millisecond})
	t.Logf("open: %d requests, p50 %.1fms p90 %.1fms p99 %.1fms max %.1fms", open.Requests.Total, open.Latency.P50, open.Latency.P90, open.Latency.P99, open.Latency.Max)
	t.Logf("closed: %d requests, p50 %.1fms p90 %.1fms p99 %.1fms max %.1fms", closed.Requests.Total, closed.Latency.P50, closed.Latency.P90, closed.Latency.P99, closed.Latency.Max)
	// 200 of 800 arrivals fall in the stall, waiting 0–1 s: P99 ≈ 990 ms.
	if open.Latency.P99 < 800 {
		t.Errorf("open model P99 %.1fms: the 1 s stall does not show", open.Latency.P99)
	}
	// The closed model saw the stall (its max) but its P99 hides it.
	if closed.Latency.Max < 800 {
		t.Errorf("closed model max %.1fms: it should have met the stall", closed.Latency.Max)
	}
	if closed.Latency.P99 > 200 {
		t.Errorf("closed model P99 %.1fms: expected the stall to be hidden (coordinated omission)", closed.Latency.P99)
	}
	// The open model kept sending through the stall.
	sec := open.Timeline[2] // 2–3 s, inside the stall
	if sec.Sent < 190 {
		t.Errorf("open model sent %d in the stalled second, want ≈ 200", sec.Sent)
	}
}

// TestRunStreamingTiming: run-wide TTFT/ITL from a server with known token
// timing (40 ms to the first token, then one every 5 ms).
func TestRunStreamingTiming(t *testing.T) {
	srv := (&fakeOllama{First: 40 * time.Millisecond, Interval: 5 * time.Millisecond, Tokens: 8}).start(t)
	mix, err := ParseMix([]byte(`
requests:
  - endpoint: /api/chat
  - endpoint: /v1/chat/completions
`))
	if err != nil {
		t.Fatal(err)
	}
	retryOnce(t, func() (bool, string) {
		rs, err := Run(context.Background(), Config{Target: srv.URL, Mix: mix, Pacer: ConstantPacer(100), Duration: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		ok := rs.TTFT.P50 >= 40 && rs.TTFT.P50 <= 46 && rs.ITL.P50 >= 4.8 && rs.ITL.P50 <= 6.5 &&
			rs.TPOT.P50 >= 4.8 && rs.TPOT.P50 <= 7.5 && rs.Tokens.PerRequest == 8 && rs.Requests.Failed == 0
		return ok, fmt.Sprintf("TTFT p50 %.2fms (want 40–46), ITL p50 %.2fms (want 4.8–6.5), TPOT p50 %.2fms (want 4.8–7.5: a per-request mean), tokens/request %.1f (want 8), failed %d",
			rs.TTFT.P50, rs.ITL.P50, rs.TPOT.P50, rs.Tokens.PerRequest, rs.Requests.Failed)
	})
}

// TestRunBoundedInFlight: at the in-flight bound the generator waits and
// says so (late), and past the grace it drops, counted, instead of
// pretending the schedule held.
func TestRunBoundedInFlight(t *testing.T) {
	srv := (&fakeOllama{Delay: 300 * time.Millisecond, Tokens: 1}).start(t)
	rs, err := Run(context.Background(), Config{
		Target: srv.URL, Pacer: ConstantPacer(100), Duration: time.Second,
		MaxInFlight: 5, Grace: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	q := rs.Requests
	t.Logf("%+v", q)
	if q.Scheduled != 100 || q.Late == 0 || q.Dropped == 0 || q.Total+q.Dropped != q.Scheduled {
		t.Errorf("scheduled %d, sent %d, late %d, dropped %d: want 100 = sent + dropped, some late and dropped", q.Scheduled, q.Total, q.Late, q.Dropped)
	}
	if rs.Generator.PeakInFlight > 5 {
		t.Errorf("peak in flight %d > bound 5", rs.Generator.PeakInFlight)
	}
	// Latency counts from the due time: waiting for a slot shows.
	if rs.Latency.Max < 1000 {
		t.Errorf("max latency %.0fms hides the wait for a slot", rs.Latency.Max)
	}
}

func TestRunCancel(t *testing.T) {
	srv := (&fakeOllama{Delay: 100 * time.Millisecond, Tokens: 1}).start(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	rs, err := Run(ctx, Config{Target: srv.URL, Pacer: ConstantPacer(100), Duration: 10 * time.Second})
	if !errors.Is(err, context.Canceled) || rs == nil {
		t.Fatalf("err %v, results %v", err, rs != nil)
	}
	q := rs.Requests
	if q.Total+q.Dropped != q.Scheduled || q.Scheduled != 1000 || q.Dropped < 900 {
		t.Errorf("%+v: want all 1000 scheduled, most dropped", q)
	}
	if rs.Errors[KindCancelled] == 0 {
		t.Errorf("errors %v: the requests in flight should be cancelled", rs.Errors)
	}
}

func TestRunRefusesNonLoopback(t *testing.T) {
	for _, target := range []string{"http://10.0.0.1:11434", "http://192.168.1.5", "http://8.8.8.8", "ftp://127.0.0.1"} {
		_, err := Run(context.Background(), Config{Target: target, Model: "m", Pacer: ConstantPacer(1), Duration: time.Second})
		if err == nil {
			t.Errorf("Run against %s started", target)
		}
	}
}

func TestRunConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Target: "http://127.0.0.1:1", Pacer: ConstantPacer(1)},                                  // no duration
		{Target: "http://127.0.0.1:1", Duration: time.Second},                                    // neither model
		{Target: "http://127.0.0.1:1", Duration: time.Second, Users: 2, Pacer: ConstantPacer(1)}, // both
		{Target: "http://127.0.0.1:1", Duration: time.Second, Pacer: ConstantPacer(0)},           // unlimited rate
	} {
		if _, err := Run(context.Background(), cfg); err == nil {
			t.Errorf("Run(%+v) started", cfg)
		}
	}
}

// TestRunRamp: a stage pacer's timeline follows the ramp.
func TestRunRamp(t *testing.T) {
	srv := (&fakeOllama{Tokens: 1}).start(t)
	p := StagePacer{Start: 50, Stages: []Stage{{2 * time.Second, 250}}}
	rs, err := Run(context.Background(), Config{Target: srv.URL, Pacer: p, Duration: p.Total()})
	if err != nil {
		t.Fatal(err)
	}
	if n := rs.Requests.Total; n < 298 || n > 302 {
		t.Errorf("%d requests, want 300 (the area under 50→250/s over 2 s)", n)
	}
	if len(rs.Timeline) < 2 || rs.Timeline[0].Sent > 110 || rs.Timeline[1].Sent < 190 {
		t.Errorf("timeline does not ramp: %+v", rs.Timeline)
	}
	if r := rs.Timeline[0].RateRequested; r != 100 {
		t.Errorf("requested rate in second 0 = %v, want 100", r)
	}
}

// TestRunProgress: the progress callback runs while the run goes on, with
// counts that only grow and the rate being sent.
func TestRunProgress(t *testing.T) {
	srv := (&fakeOllama{Tokens: 1}).start(t)
	var got []Progress
	rs, err := Run(context.Background(), Config{
		Target: srv.URL, Pacer: ConstantPacer(100), Duration: 2 * time.Second,
		ProgressEvery: 250 * time.Millisecond, Progress: func(p Progress) { got = append(got, p) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < 5 {
		t.Fatalf("%d progress calls in 2 s at 250 ms", len(got))
	}
	var rates float64
	for i, p := range got {
		if i > 0 && (p.Sent < got[i-1].Sent || p.Completed < got[i-1].Completed || p.Elapsed <= got[i-1].Elapsed) {
			t.Errorf("progress went backwards: %+v after %+v", p, got[i-1])
		}
		if p.Total != 2*time.Second || p.Completed > p.Sent {
			t.Errorf("progress %+v", p)
		}
		rates += p.Rate
	}
	if mean := rates / float64(len(got)); mean < 50 || mean > 150 {
		t.Errorf("mean progress rate %.1f/s, want ≈ 100", mean)
	}
	if last := got[len(got)-1]; last.Sent > rs.Requests.Total {
		t.Errorf("progress says %d sent, results %d", last.Sent, rs.Requests.Total)
	}
}

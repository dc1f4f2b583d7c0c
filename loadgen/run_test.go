package loadgen

import (
	"context"
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
	rs, err := Run(context.Background(), Config{Target: srv.URL, Pacer: ConstantPacer(1000), Duration: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	checkRate(t, rs, 5000, 1000)
}

func checkRate(t *testing.T, rs *Results, wantN int64, wantRate float64) {
	t.Helper()
	q := rs.Requests
	t.Logf("sent %d (scheduled %d, late %d, dropped %d, failed %d), achieved %.2f/s, send delay p99 %.3fms, cpu %.2fs, loadavg %.2f",
		q.Total, q.Scheduled, q.Late, q.Dropped, q.Failed, q.RateAchieved, rs.SendDelay.P99, rs.Generator.CPUSeconds, rs.Generator.LoadAvg1)
	if d := float64(q.Total-wantN) / float64(wantN); d < -0.01 || d > 0.01 {
		t.Errorf("sent %d requests, want %d ± 1%%", q.Total, wantN)
	}
	if d := (q.RateAchieved - wantRate) / wantRate; d < -0.01 || d > 0.01 {
		t.Errorf("achieved rate %.2f/s, want %.0f ± 1%%", q.RateAchieved, wantRate)
	}
	if q.Failed != 0 {
		t.Errorf("%d failed: %v", q.Failed, rs.ErrorSample)
	}
}

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dsbridge/dsbridge/bench"
)

// writeRamp writes a results.json whose timeline rises 10 req/s per second
// and breaks the 500 ms SLO from second 20 on.
func writeRamp(t *testing.T) string {
	t.Helper()
	r := bench.Results{Schema: bench.SchemaVersion, Scenario: "ramp-to-knee",
		Topology: bench.TopologyInfo{Sims: 2, Bridges: 1}}
	r.SLO.P99Ms, r.SLO.ErrorRate = 500, 0.01
	for s := range 30 {
		p := bench.TimelinePoint{RateRequested: float64(10 * (s + 1))}
		p.Second, p.Count, p.P50Ms, p.P99Ms = s, int64(10*(s+1)), 10, 50
		if s >= 20 {
			p.P99Ms = 900
		}
		r.Timeline = append(r.Timeline, p)
	}
	b, _ := json.Marshal(r)
	path := filepath.Join(t.TempDir(), "results.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPlanCommand(t *testing.T) {
	path := writeRamp(t)
	code, stdout, stderr := runBinary(t, "plan", "--results", path, "--target-qps", "1000")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	// Knee 190 req/s, even split over 2 sims: 95 per sim → 11+1; 190 per bridge → 6+1.
	for _, want := range []string{"## Capacity plan", "190.0 req/s", "| 95.0 | 12 |", "| 190.0 | 7 |", "轻量级", "标准型", "旗舰型"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("plan output lacks %q:\n%s", want, stdout)
		}
	}
	code, stdout, _ = runBinary(t, "plan", "--results", path, "--json")
	var p bench.Plan
	if code != 0 || json.Unmarshal([]byte(stdout), &p) != nil || p.TargetQPS != 3000 || p.SimsNeeded != 33 {
		t.Errorf("--json: exit %d, plan %+v", code, p)
	}
	// No results file: a usage error, exit 2.
	if code, _, _ := runBinary(t, "plan"); code != 2 {
		t.Errorf("plan without --results: exit %d; want 2", code)
	}
	// A run that never met a 5 ms SLO has no plan: exit 2 with the reason.
	if code, _, stderr := runBinary(t, "plan", "--results", path, "--p99", "5"); code != 2 || !strings.Contains(stderr, "SLO") {
		t.Errorf("impossible SLO: exit %d, %s", code, stderr)
	}
}

func TestBenchHelpAndList(t *testing.T) {
	code, _, stderr := runBinary(t, "bench", "--help")
	if code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	for _, want := range []string{"--scenario", "--out", "--seed", "--list", "smoke", "failover-hang", "seed-3000qps", "rolling_restart", "http_req_duration"} {
		if !strings.Contains(stderr, strings.TrimPrefix(want, "-")) {
			t.Errorf("bench --help lacks %q", want)
		}
	}
	code, stdout, _ := runBinary(t, "bench", "--list")
	if code != 0 || !strings.Contains(stdout, "ramp-to-knee") {
		t.Errorf("--list: exit %d\n%s", code, stdout)
	}
	if code, _, _ := runBinary(t, "bench", "--scenario", "no-such"); code != 2 {
		t.Errorf("unknown scenario: exit %d; want 2", code)
	}
}

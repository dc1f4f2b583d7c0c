package loadgen

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dsbridge/dsbridge/internal/testproc"
)

// TestGeneratorCeiling measures how fast this generator can send and time
// requests on this machine, against the simulator with no modelled delay,
// so its limit is never mistaken for a bridge's. It runs the real
// `dsbridge load` process for 5 s at each rate and prints a table for the
// README; it only runs when asked:
//
//	DSBRIDGE_CEILING=1 go test -run TestGeneratorCeiling -v -timeout 9m ./loadgen
//
// DSBRIDGE_CEILING_RATES (e.g. "1000,2000,4000") and
// DSBRIDGE_CEILING_TOKENS (output tokens per request, default 32) tune it.
func TestGeneratorCeiling(t *testing.T) {
	if os.Getenv("DSBRIDGE_CEILING") == "" {
		t.Skip("set DSBRIDGE_CEILING=1 to measure the generator's ceiling")
	}
	rates := []float64{1000, 2000, 3000, 4000, 5000, 6000, 8000}
	if s := os.Getenv("DSBRIDGE_CEILING_RATES"); s != "" {
		rates = nil
		for _, f := range strings.Split(s, ",") {
			r, err := strconv.ParseFloat(f, 64)
			if err != nil {
				t.Fatal(err)
			}
			rates = append(rates, r)
		}
	}
	tokens := 32
	if s := os.Getenv("DSBRIDGE_CEILING_TOKENS"); s != "" {
		tokens, _ = strconv.Atoi(s)
	}
	sim := startSim(t, "--profile", "instant", "--parallel", "4096")
	var rows []string
	for _, rate := range rates {
		// The real `dsbridge load` process, as users run it: its CPU is its
		// own, apart from this test's and the simulator's.
		out := filepath.Join(t.TempDir(), "results.json")
		cmd := exec.Command(testproc.Binary(t), "load", "--target", sim.URL, "--rate", fmt.Sprint(rate),
			"--duration", "5s", "--max-tokens", strconv.Itoa(tokens), "--progress", "0", "--out", out)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v\n%s", err, b)
		}
		f, err := os.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		rs, err := ReadResults(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		q := rs.Requests
		ok := q.Dropped == 0 && q.Failed == 0 && q.Total >= q.Scheduled*99/100 &&
			relDiff(q.RateAchieved, rate) > -1 && relDiff(q.RateAchieved, rate) < 1 && pct(q.Late, q.Scheduled) < 1
		row := fmt.Sprintf("| %6.0f | %6d | %8.1f | %5.2f%% | %6.2f | %8.2f | %5.2f | %6.1f | %5.2f | %s |",
			rate, q.Total, q.RateAchieved, pct(q.Late, q.Scheduled), rs.SendDelay.P50, rs.SendDelay.P99,
			rs.Generator.CPUCores, 1e6*rs.Generator.CPUSeconds/float64(max(q.Total, 1)), rs.Generator.LoadAvg1, map[bool]string{true: "holds", false: "misses"}[ok])
		rows = append(rows, row)
		t.Log(row)
		time.Sleep(2 * time.Second) // let the sockets in TIME_WAIT and the sim settle
	}
	t.Logf("tokens per request %d\n| rate/s | sent | achieved/s | late | delay p50 ms | delay p99 ms | gen cores | gen µs CPU/req | loadavg | schedule |\n|---|---|---|---|---|---|---|---|---|---|\n%s",
		tokens, strings.Join(rows, "\n"))
}

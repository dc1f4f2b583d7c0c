package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

// synthetic makes n results with latencies from a long-tailed distribution.
func synthetic(start time.Time, r *rand.Rand, n int) []*Result {
	out := make([]*Result, n)
	for i := range out {
		due := start.Add(time.Duration(i) * 3 * time.Millisecond)
		lat := time.Duration(r.ExpFloat64()*20e6) + time.Millisecond
		res := &Result{Seq: uint64(i), Intended: due, Sent: due.Add(time.Duration(r.IntN(500)) * time.Microsecond),
			Done: due.Add(lat), Latency: lat, TTFT: lat / 3, ITL: []time.Duration{lat / 10, lat / 7}, OutputTokens: 3, Status: 200}
		if i%97 == 0 {
			res.Kind, res.Status, res.Error = KindHTTP5xx, 503, "busy"
		}
		out[i] = res
	}
	return out
}

// TestMergeShardsExact: two shards' histograms, written to JSON and read
// back, merge to the same percentiles as one run that saw every request.
func TestMergeShardsExact(t *testing.T) {
	start := time.Date(2026, 11, 26, 23, 0, 0, 0, time.UTC)
	all := synthetic(start, rand.New(rand.NewPCG(1, 2)), 20000)
	union := NewResults(start, nil)
	a, b := NewResults(start, nil), NewResults(start, nil)
	for i, r := range all {
		union.Add(r)
		if i%3 == 0 { // uneven shards
			a.Add(r)
		} else {
			b.Add(r)
		}
	}
	union.Close()
	a.Close()
	b.Close()
	roundTrip := func(rs *Results) *Results {
		var buf bytes.Buffer
		if err := rs.WriteJSON(&buf); err != nil {
			t.Fatal(err)
		}
		back, err := ReadResults(&buf)
		if err != nil {
			t.Fatal(err)
		}
		return back
	}
	merged := roundTrip(a)
	if err := merged.Merge(roundTrip(b)); err != nil {
		t.Fatal(err)
	}
	merged.Close()
	for name, p := range map[string][2]Summary{
		"latency": {merged.Latency, union.Latency}, "ttft": {merged.TTFT, union.TTFT},
		"itl": {merged.ITL, union.ITL}, "tpot": {merged.TPOT, union.TPOT}, "send delay": {merged.SendDelay, union.SendDelay},
		"latency ok": {merged.LatencyOK, union.LatencyOK},
	} {
		if p[0] != p[1] {
			t.Errorf("%s: merged %+v, union %+v", name, p[0], p[1])
		}
	}
	if merged.Requests.Total != union.Requests.Total || merged.Requests.Failed != union.Requests.Failed ||
		merged.Errors[KindHTTP5xx] != union.Errors[KindHTTP5xx] || merged.StatusCodes["200"] != union.StatusCodes["200"] {
		t.Errorf("counts: merged %+v %v, union %+v %v", merged.Requests, merged.Errors, union.Requests, union.Errors)
	}
	if merged.Requests.RateAchieved != union.Requests.RateAchieved {
		t.Errorf("achieved rate: merged %v, union %v", merged.Requests.RateAchieved, union.Requests.RateAchieved)
	}
	if len(merged.Timeline) != len(union.Timeline) {
		t.Fatalf("timeline: %d seconds merged, %d union", len(merged.Timeline), len(union.Timeline))
	}
	for i := range union.Timeline {
		m, u := merged.Timeline[i], union.Timeline[i]
		if m.Sent != u.Sent || m.Completed != u.Completed || m.Errors != u.Errors || m.P50 != u.P50 || m.P99 != u.P99 {
			t.Errorf("second %d: merged %+v, union %+v", i, m, u)
		}
	}
	if merged.Shards != 2 {
		t.Errorf("shards %d, want 2", merged.Shards)
	}
}

// TestResultsJSONKeys: results.json carries DESIGN.md's required keys.
func TestResultsJSONKeys(t *testing.T) {
	rs := NewResults(time.Now(), nil)
	for _, r := range synthetic(time.Now(), rand.New(rand.NewPCG(3, 4)), 100) {
		rs.Add(r)
	}
	rs.Close()
	var buf bytes.Buffer
	if err := rs.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if m["schema"] != "dsbridge.results/v1" {
		t.Errorf("schema %v", m["schema"])
	}
	for _, k := range []string{"scenario", "duration_s", "gates", "pass", "timeline", "histograms", "errors", "status_codes", "tokens"} {
		if _, ok := m[k]; !ok {
			t.Errorf("missing key %q", k)
		}
	}
	sub := map[string][]string{
		"requests":   {"total", "failed", "rate_requested", "rate_achieved"},
		"latency_ms": {"p50", "p90", "p95", "p99", "max"},
		"ttft_ms":    {"p50", "p99"},
		"itl_ms":     {"p50", "p99"},
		"tpot_ms":    {"p50", "p99"},
	}
	for k, keys := range sub {
		obj, _ := m[k].(map[string]any)
		for _, kk := range keys {
			if _, ok := obj[kk]; !ok {
				t.Errorf("missing key %s.%s", k, kk)
			}
		}
	}
	if g, ok := m["gates"].([]any); !ok || len(g) != 0 {
		t.Errorf("gates = %v, want []", m["gates"])
	}
}

// TestMergeRealShards runs two real shards against one server and checks
// the merge against a histogram of every request they made.
func TestMergeRealShards(t *testing.T) {
	srv := (&fakeOllama{Delay: 2 * time.Millisecond, Tokens: 3, Interval: time.Millisecond}).start(t)
	union := NewHistogram()
	var shards []*Results
	for seed := range uint64(2) {
		rs, err := Run(context.Background(), Config{
			Target: srv.URL, Pacer: PoissonPacer{Mean: 200, Seed: seed}, Duration: time.Second, Seed: seed,
			OnResult: func(r *Result) { union.Record(r.Latency) },
		})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := rs.WriteJSON(&buf); err != nil {
			t.Fatal(err)
		}
		back, err := ReadResults(&buf)
		if err != nil {
			t.Fatal(err)
		}
		shards = append(shards, back)
	}
	if err := shards[0].Merge(shards[1]); err != nil {
		t.Fatal(err)
	}
	shards[0].Close()
	if got, want := shards[0].Latency, union.Summary(); got != want {
		t.Errorf("merged %+v, union of raw latencies %+v", got, want)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dsbridge/dsbridge/internal/testproc"
)

// TestMain lets the test binary play the child roles (upstream, httputil)
// that the harness starts by re-executing itself.
func TestMain(m *testing.M) {
	if os.Getenv(roleEnv) != "" {
		os.Exit(mainExit(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// requireTools skips when wrk or nginx is missing, unless
// DSBRIDGE_REQUIRE_TOOLS is set (CI sets it: there a missing tool is a
// broken install step, not a reason to skip).
func requireTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"wrk", "nginx"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("DSBRIDGE_REQUIRE_TOOLS") == "" {
				t.Skipf("%s not installed (apt-get install wrk nginx-light); set DSBRIDGE_REQUIRE_TOOLS to fail instead", tool)
			}
			t.Fatalf("%s not installed and DSBRIDGE_REQUIRE_TOOLS is set: %v", tool, err)
		}
	}
}

// TestShortRun runs the whole benchmark end to end in its shortest form and
// checks that it measured something sane. It asserts no performance ratio:
// performance is measured by the benchmark, not asserted by unit tests.
func TestShortRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts wrk, nginx and five processes for about 20 s")
	}
	requireTools(t)
	out := t.TempDir()
	args := []string{
		"--duration", "1s", "--warmup", "0s", "--repeat", "1",
		"--dsbridge", testproc.Binary(t), "--out", out,
		"--profile", "--profile-seconds", "1", "--max-time", "3m",
		// Reno is built into every kernel and is nobody's default: the
		// upstreams must start with it and the report must say so.
		"--upstream-cc", "reno",
	}
	var stderr bytes.Buffer
	cfg, err := parseFlags(args, &stderr)
	if err != nil {
		t.Fatalf("parseFlags: %v\n%s", err, stderr.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	rep, err := run(ctx, cfg, &stderr)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	t.Logf("\n%s\n%s", stderr.String(), rep.Markdown())

	if len(rep.StartErrors) > 0 {
		t.Errorf("targets did not start: %v", rep.StartErrors)
	}
	for _, p := range rep.Probes {
		if !p.OK {
			t.Errorf("probe %s %s: %s", p.Target, p.Case, p.Detail)
		}
	}
	for _, name := range allTargets() {
		for _, c := range cfg.cases() {
			s := rep.summary(name, c.Name)
			if s == nil {
				t.Errorf("%s %s: no cells", name, c.Name)
				continue
			}
			if s.ReqPerSec.Median <= 0 || s.P50ms.Median <= 0 || s.P99ms.Median < s.P50ms.Median {
				t.Errorf("%s %s: req/s %v, P50 %v ms, P99 %v ms: not a measurement", name, c.Name,
					s.ReqPerSec.Median, s.P50ms.Median, s.P99ms.Median)
			}
			if s.Errors != 0 || s.ReadErrors != 0 {
				t.Errorf("%s %s: %d errors (%d read) against stdlib upstreams", name, c.Name, s.Errors, s.ReadErrors)
			}
			if name != "direct" && s.ProxyCPUPer1k.Median <= 0 {
				t.Errorf("%s %s: proxy CPU per 1000 requests %v, want > 0", name, c.Name, s.ProxyCPUPer1k.Median)
			}
			// A request and its answer are at least one segment each way.
			if s.TCPSegsPerReq.Median < 2 {
				t.Errorf("%s %s: %v TCP segments per request, want >= 2", name, c.Name, s.TCPSegsPerReq.Median)
			}
			if c.Stream && s.BytesPerResp.Median < float64(c.Tokens*50) {
				t.Errorf("%s %s: %v bytes per stream, too few for %d tokens", name, c.Name, s.BytesPerResp.Median, c.Tokens)
			}
		}
	}
	if rep.Settings.UpstreamCC != "reno" || !strings.Contains(rep.Markdown(), "the upstreams' connections: reno") {
		t.Errorf("the report does not name the upstreams' congestion control: %q", rep.Settings.UpstreamCC)
	}
	if len(rep.Verdict.Lines) == 0 {
		t.Error("no verdict lines")
	}
	// One per case: scripts/pgo.sh merges them into the build's profile.
	if len(rep.Profiles) != 3 {
		t.Errorf("%d bridge profiles, want 3 (one per case)", len(rep.Profiles))
	}
	for i, p := range rep.Profiles {
		if want := cfg.cases()[i].Name; p.Case != want {
			t.Errorf("profile %d is of case %q, want %q", i, p.Case, want)
		}
		if len(p.Files) == 0 {
			t.Errorf("no bridge profile captured: %+v", p)
		}
	}
	md, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil || !strings.Contains(string(md), "| nginx (Debian nginx-light) |") {
		t.Errorf("report.md: %v\n%s", err, md)
	}
	again, err := rerender(filepath.Join(out, "results.json"), t.TempDir())
	if err != nil || len(again.Summaries) != len(rep.Summaries) || again.Verdict.Done != rep.Verdict.Done {
		t.Errorf("rerender: %v; %d summaries, want %d", err, len(again.Summaries), len(rep.Summaries))
	}
	var back report
	js, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err == nil {
		err = json.Unmarshal(js, &back)
	}
	if err != nil || back.Schema != "dsbridge.proxybench/v1" || len(back.Cells) != len(rep.Cells) {
		t.Errorf("results.json: %v, schema %q, %d cells", err, back.Schema, len(back.Cells))
	}
}

func TestStatOf(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want stat
	}{
		{nil, stat{}},                                     // no repeats: zeros, no division by zero
		{[]float64{5}, stat{5, 5, 5, 0}},                  // one repeat: no spread
		{[]float64{90, 110, 100}, stat{100, 90, 110, 10}}, // ±10 %: half of (110-90) over 100
		{[]float64{4, 1, 3, 2}, stat{2.5, 1, 4, 60}},      // even count: mean of the middle two
	} {
		if got := statOf(tc.in); got != tc.want {
			t.Errorf("statOf(%v) = %+v; want %+v", tc.in, got, tc.want)
		}
	}
}

func TestJudge(t *testing.T) {
	mk := func(bridgeChat, bridgeStream float64, streamErrs int64) *report {
		r := &report{
			Settings: settings{StreamTol: 0.05},
			Cases:    []benchCase{{Name: "chat"}, {Name: "stream32", Stream: true, Tokens: 32}},
			order:    []string{"nginx", "bridge"},
		}
		r.Cells = []cell{
			{Target: "nginx", Case: "chat", ReqPerSec: 1000},
			{Target: "bridge", Case: "chat", ReqPerSec: bridgeChat},
			{Target: "nginx", Case: "stream32", ReqPerSec: 100},
			{Target: "bridge", Case: "stream32", ReqPerSec: bridgeStream, Errors: streamErrs, Wrk: wrkResult{Read: streamErrs}},
		}
		r.finish()
		return r
	}
	for _, tc := range []struct {
		name         string
		chat, stream float64
		streamErrs   int64
		wantDone     bool
	}{
		{"at nginx's rate", 1000, 100, 0, true},
		{"0.75x is enough for non-streamed", 750, 100, 0, true},
		{"below 0.75x is not", 749, 100, 0, false},
		{"stream within tolerance", 1000, 96, 0, true},
		{"stream below tolerance", 1000, 94, 0, false},
		{"stream read errors fail even when fast", 1000, 120, 3, false},
	} {
		r := mk(tc.chat, tc.stream, tc.streamErrs)
		if r.Verdict.Done != tc.wantDone {
			t.Errorf("%s: done = %t; want %t (%v)", tc.name, r.Verdict.Done, tc.wantDone, r.Verdict.Lines)
		}
	}
}

func TestReadStatParsesOwnProcess(t *testing.T) {
	st, err := readStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.pgrp <= 0 {
		t.Errorf("pgrp = %d", st.pgrp)
	}
}

func TestThousands(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 999: "999", 6700: "6,700", 1234567: "1,234,567", -2600: "-2,600"} {
		if got := thousands(in, 0); got != want {
			t.Errorf("thousands(%v) = %q; want %q", in, got, want)
		}
	}
}

func TestCellOrder(t *testing.T) {
	mk := func(names ...string) []*target {
		var ts []*target
		for _, n := range names {
			ts = append(ts, &target{Name: n})
		}
		return ts
	}
	names := func(ts []*target) string {
		var s []string
		for _, t := range ts {
			s = append(s, t.Name)
		}
		return strings.Join(s, ",")
	}
	all := mk("direct", "nginx", "httputil", "bridge")
	for _, tc := range []struct {
		targets []*target
		r       int
		want    string
	}{
		{all, 0, "direct,httputil,nginx,bridge"},                      // pair last, nginx first
		{all, 1, "httputil,bridge,nginx,direct"},                      // rotated by one unit, bridge first
		{all, 2, "nginx,bridge,direct,httputil"},                      // rotated by two units
		{mk("direct", "nginx"), 1, "nginx,direct"},                    // no bridge: plain rotation
		{mk("bridge"), 3, "bridge"},                                   // one target
		{mk("nginx", "bridge", "haproxy"), 1, "bridge,nginx,haproxy"}, // haproxy is one of the rest
	} {
		if got := names(cellOrder(tc.targets, tc.r)); got != tc.want {
			t.Errorf("cellOrder(%s, %d) = %s; want %s", names(tc.targets), tc.r, got, tc.want)
		}
	}
}

func TestChangesPairsRepeats(t *testing.T) {
	cases := []benchCase{{Name: "chat"}, {Name: "stream32", Stream: true, Tokens: 32}}
	cells := []cell{
		// Repeat 1: the bridge cheaper and faster; repeat 2: dearer.
		{Target: "bridge", Case: "chat", Repeat: 1, ReqPerSec: 110, ProxyCPUPer1k: 90},
		{Target: "bridge-base", Case: "chat", Repeat: 1, ReqPerSec: 100, ProxyCPUPer1k: 100},
		{Target: "bridge", Case: "chat", Repeat: 2, ReqPerSec: 90, ProxyCPUPer1k: 60},
		{Target: "bridge-base", Case: "chat", Repeat: 2, ReqPerSec: 100, ProxyCPUPer1k: 50},
		// nginx is not the base.
		{Target: "nginx", Case: "chat", Repeat: 1, ReqPerSec: 500, ProxyCPUPer1k: 10},
		// A case without base cells has no line.
		{Target: "bridge", Case: "stream32", Repeat: 1, ReqPerSec: 10, ProxyCPUPer1k: 100},
	}
	chs := changes(cases, cells)
	if len(chs) != 1 || chs[0].Case != "chat" {
		t.Fatalf("changes = %+v; want one, for chat", chs)
	}
	ch := chs[0]
	if ch.Repeats != 2 || ch.Cheaper != 1 {
		t.Errorf("repeats %d, cheaper %d; want 2 and 1", ch.Repeats, ch.Cheaper)
	}
	if ch.CPURatio.Min != 0.9 || ch.CPURatio.Max != 1.2 || ch.RateRatio.Min != 0.9 || ch.RateRatio.Max != 1.1 {
		t.Errorf("CPU ratio %+v, rate ratio %+v; want 0.9–1.2 and 0.9–1.1", ch.CPURatio, ch.RateRatio)
	}
	md := changesMarkdown(chs)
	if !strings.Contains(md, "chat: proxy CPU per request 1.05 (0.90–1.20), lower in 1 of 2 repeats; requests/s 1.00 (0.90–1.10)") {
		t.Errorf("markdown:\n%s", md)
	}
	if changes(cases, cells[4:5]) != nil || changesMarkdown(nil) != "" {
		t.Error("a run without a base build has no change paragraph")
	}
}

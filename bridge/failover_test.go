package bridge_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Killing one of three upstreams with SIGKILL under steady load loses no
// non-streamed request: dial errors and connections cut before the first
// byte are re-sent to another upstream.
func TestKillOneOfThreeUnderLoad(t *testing.T) {
	t.Parallel()
	sims := []string{}
	victim := startSim(t)
	sims = append(sims, victim.URL, startSim(t).URL, startSim(t).URL)
	// Make the victim slow enough that requests are in flight on it when it
	// dies, not only queued at the bridge.
	setFaults(t, victim, `{"kind":"latency","delay":"50ms"}`)
	br, _ := startBridge(t, upstreamsYAML(sims)+"policy: least_outstanding\n")

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	go func() {
		time.Sleep(1500 * time.Millisecond)
		_ = syscall.Kill(victim.Cmd.Process.Pid, syscall.SIGKILL)
	}()
	res := runLoad(ctx, br.URL, 8)
	t.Logf("ok %d failed %d max latency %v", res.ok, res.failed, res.maxLatency)
	if res.failed > 0 {
		t.Fatalf("%d requests failed after kill -9 of one upstream: %v", res.failed, res.errs)
	}
	if res.ok < 50 {
		t.Fatalf("only %d requests completed; the load did not run", res.ok)
	}
	if v := metricValue(t, br.URL, "bridge_upstream_requests_total", victim.URL, `outcome="failure"`); v == 0 {
		t.Errorf("no failure counted against the killed upstream")
	}
}

// A SIGSTOPped upstream (a hung process: the kernel still accepts its
// connections) costs latency, not errors: the health checks take it out
// within about 3 s and the requests waiting on it are re-sent.
func TestStoppedUpstreamCostsLatencyNotErrors(t *testing.T) {
	t.Parallel()
	victim := startSim(t)
	sims := []string{victim.URL, startSim(t).URL, startSim(t).URL}
	br, _ := startBridge(t, upstreamsYAML(sims))

	ctx, cancel := context.WithTimeout(context.Background(), 7*time.Second)
	defer cancel()
	go func() {
		time.Sleep(1 * time.Second)
		_ = syscall.Kill(victim.Cmd.Process.Pid, syscall.SIGSTOP)
	}()
	res := runLoad(ctx, br.URL, 8)
	st := adminUpstreams(t, br.URL)
	_ = syscall.Kill(victim.Cmd.Process.Pid, syscall.SIGCONT)
	for _, u := range st.Upstreams {
		if u.URL == victim.URL && u.Healthy {
			t.Errorf("stopped upstream still healthy: %+v", u)
		}
	}
	t.Logf("ok %d failed %d max latency %v", res.ok, res.failed, res.maxLatency)
	if res.failed > 0 {
		t.Fatalf("%d requests failed with one upstream stopped: %v", res.failed, res.errs)
	}
	// Out within ~3 s by default; allow a noisy machine some slack, but far
	// less than the 6 s the hang lasts.
	if res.maxLatency > 5500*time.Millisecond {
		t.Errorf("max latency %v; want the hung upstream out within a few seconds", res.maxLatency)
	}
}

// A stream that hangs before its first byte is re-sent elsewhere once the
// first-byte time-out passes; the client sees one good stream.
func TestHangBeforeFirstByteIsRetried(t *testing.T) {
	t.Parallel()
	hung := startSim(t)
	good := startSim(t)
	setFaults(t, hung, `{"kind":"hang_before_first_byte","paths":["/api/chat"]}`)
	br, _ := startBridge(t, upstreamsYAML([]string{hung.URL, good.URL})+
		"policy: round_robin\ntimeouts: {first_byte: 300ms}\n")
	for i := 0; i < 4; i++ {
		code, body, err := post(t, http.DefaultClient, br.URL+"/api/chat", chatBody(true, 3))
		if err != nil || code != 200 || !strings.Contains(body, `"done":true`) {
			t.Fatalf("request %d: %d %v %s", i, code, err, body)
		}
	}
	if v := metricValue(t, br.URL, "bridge_retries_total"); v < 1 {
		t.Errorf("bridge_retries_total = %v; want the hung attempts retried", v)
	}
}

// A stream that dies after its first byte cannot fail over: it ends with an
// error in the client's own protocol (NDJSON error line, SSE error event),
// and the upstream is charged with a failure. The faults name their paths:
// without, the sim also cuts the health checks' /api/ps and /api/tags.
func TestStreamDiesAfterFirstByte(t *testing.T) {
	t.Parallel()
	sim := startSim(t)
	setFaults(t, sim, `{"kind":"cut_stream","after_tokens":3,"paths":["/api/chat","/v1/chat/completions"]}`)
	br, _ := startBridge(t, upstreamsYAML([]string{sim.URL})+"passive: {max_fails: 100}\n")

	tests := []struct {
		path, body string
		errorLine  string // the protocol's error form
	}{
		// Native NDJSON: a last {"error":…} line, as Ollama itself reports.
		{"/api/chat", chatBody(true, 10), `{"error":"upstream failed mid-stream`},
		// OpenAI SSE: a data: event with an OpenAI error object.
		{"/v1/chat/completions", `{"model":"tiny","stream":true,"max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`,
			`data: {"error":{"message":"upstream failed mid-stream`},
	}
	for _, tt := range tests {
		resp, err := http.Post(br.URL+tt.path, "application/json", strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		lines := readLines(t, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(lines) < 2 {
			t.Fatalf("%s: status %d, lines %q", tt.path, resp.StatusCode, lines)
		}
		if last := lines[len(lines)-1]; !strings.HasPrefix(last, tt.errorLine) {
			t.Errorf("%s: last line %q; want prefix %q", tt.path, last, tt.errorLine)
		}
		for _, l := range lines[:len(lines)-1] {
			if strings.Contains(l, "error") || strings.Contains(l, `"done":true`) || strings.Contains(l, "[DONE]") {
				t.Errorf("%s: unexpected line before the error: %q", tt.path, l)
			}
		}
	}
	if v := metricValue(t, br.URL, "bridge_upstream_requests_total", `outcome="failure"`); v < 2 {
		t.Errorf("failures counted = %v; want 2", v)
	}
	// Ollama's own mid-stream error line passes through and counts too.
	setFaults(t, sim, `{"kind":"error_line","after_tokens":2,"message":"runner died","paths":["/api/chat"]}`)
	resp, err := http.Post(br.URL+"/api/chat", "application/json", strings.NewReader(chatBody(true, 10)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `{"error":"runner died"}`) {
		t.Errorf("error line not passed through: %s", b)
	}
	if v := metricValue(t, br.URL, "bridge_upstream_requests_total", `outcome="failure"`); v < 3 {
		t.Errorf("failures counted = %v; want 3", v)
	}
}

// Backups get traffic only when no primary is available.
func TestBackupOnlyWhenPrimariesOut(t *testing.T) {
	t.Parallel()
	p1, p2, backup := startSim(t), startSim(t), startSim(t)
	br, _ := startBridge(t, upstreamsYAML([]string{p1.URL, p2.URL, backup.URL}, "", "", "backup: true"))
	send := func(n int) {
		for i := 0; i < n; i++ {
			code, body, err := post(t, http.DefaultClient, br.URL+"/api/chat", chatBody(false, 2))
			if err != nil || code != 200 {
				t.Fatalf("request %d: %d %v %s", i, code, err, body)
			}
		}
	}
	send(20)
	if v := metricValue(t, br.URL, "bridge_upstream_requests_total", backup.URL); v != 0 {
		t.Fatalf("backup served %v requests while primaries were up", v)
	}
	_ = syscall.Kill(p1.Cmd.Process.Pid, syscall.SIGKILL)
	_ = syscall.Kill(p2.Cmd.Process.Pid, syscall.SIGKILL)
	send(10)
	if v := metricValue(t, br.URL, "bridge_upstream_requests_total", backup.URL, `outcome="success"`); v < 10 {
		t.Fatalf("backup served %v of 10 requests with both primaries dead", v)
	}
}

// Traffic shares follow the weights (round robin 1:2:3).
func TestTrafficFollowsWeights(t *testing.T) {
	t.Parallel()
	a, b, c := startSim(t), startSim(t), startSim(t)
	br, _ := startBridge(t, upstreamsYAML([]string{a.URL, b.URL, c.URL}, "weight: 1", "weight: 2", "weight: 3")+
		"policy: round_robin\n")
	const n = 300
	for i := 0; i < n; i++ {
		code, body, err := post(t, http.DefaultClient, br.URL+"/api/generate", `{"model":"tiny","stream":false,"prompt":"x","options":{"num_predict":1}}`)
		if err != nil || code != 200 {
			t.Fatalf("request %d: %d %v %s", i, code, err, body)
		}
	}
	for i, u := range []string{a.URL, b.URL, c.URL} {
		got := metricValue(t, br.URL, "bridge_upstream_requests_total", u, `outcome="success"`) / n
		want := float64(i+1) / 6
		if got < want-0.03 || got > want+0.03 {
			t.Errorf("upstream weight %d got share %.3f; want %.3f ± 0.03", i+1, got, want)
		}
	}
}

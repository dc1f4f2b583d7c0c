package bridge_test

import (
	"github.com/dsbridge/dsbridge/internal/testproc"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// SIGTERM under load drops nothing: /ready turns 503 at once, the streams
// in flight run to their end, then the process exits 0.
func TestSIGTERMDrainsInFlight(t *testing.T) {
	t.Parallel()
	// 40 tokens at 40 tokens/s: each stream lasts about a second.
	sims := []string{startSim(t, "--tokens-per-second", "40").URL, startSim(t, "--tokens-per-second", "40").URL}
	br, _ := startBridge(t, upstreamsYAML(sims)+"server: {drain_delay: 500ms}\n")

	const n = 12
	var wg sync.WaitGroup
	errs := make(chan string, n)
	started := make(chan struct{}, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			body := chatBody(i%2 == 0, 40) // half streamed, half not
			resp, err := http.Post(br.URL+"/api/chat", "application/json", strings.NewReader(body))
			if err != nil {
				errs <- err.Error()
				return
			}
			started <- struct{}{}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || !strings.Contains(string(b), `"done":true`) {
				errs <- resp.Status + " " + string(b)
			}
		}(i)
	}
	// Streams answer headers at the first token; wait for those, and give
	// the non-streamed ones a moment to be in flight.
	for i := 0; i < n/2; i++ {
		<-started
	}
	time.Sleep(100 * time.Millisecond)
	if err := br.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	testproc.Eventually(t, 2*time.Second, "/ready 503 after SIGTERM", func() bool {
		resp, err := http.Get(br.URL + "/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	})
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("request lost during drain: %s", e)
	}
	code, err := br.Wait(20 * time.Second)
	if err != nil || code != 0 {
		t.Errorf("exit code %d, %v; want 0", code, err)
	}
}

// A reload (SIGHUP or POST /admin/reload) swaps the upstream list without a
// restart; a bad configuration is refused and the old one keeps serving.
func TestReload(t *testing.T) {
	t.Parallel()
	a, b := startSim(t), startSim(t)
	br, cfgPath := startBridge(t, upstreamsYAML([]string{a.URL}))
	has := func(url string) bool {
		for _, u := range adminUpstreams(t, br.URL).Upstreams {
			if u.URL == url {
				return true
			}
		}
		return false
	}
	write := func(s string) {
		if err := os.WriteFile(cfgPath, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Good config by SIGHUP.
	write(upstreamsYAML([]string{b.URL}))
	if err := br.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testproc.Eventually(t, 5*time.Second, "SIGHUP reload", func() bool { return has(b.URL) && !has(a.URL) })

	tests := []struct {
		name, cfg string
		code      int
	}{
		// Not YAML.
		{"syntax", "upstreams: [", 400},
		// A typo'd key is refused, not ignored.
		{"unknown key", upstreamsYAML([]string{a.URL}) + "polcy: round_robin\n", 400},
		// Invalid values.
		{"bad url", upstreamsYAML([]string{"ftp://x"}), 400},
		// An empty pool.
		{"no upstreams", "policy: round_robin\n", 400},
		// Good again, by POST /admin/reload (loopback, no token configured).
		{"good", upstreamsYAML([]string{a.URL, b.URL}), 200},
	}
	for _, tt := range tests {
		write(tt.cfg)
		resp, err := http.Post(br.URL+"/admin/reload", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.code {
			t.Errorf("%s: reload %d %s; want %d", tt.name, resp.StatusCode, msg, tt.code)
		}
		// Whatever happened, the bridge serves.
		code, body, err := post(t, http.DefaultClient, br.URL+"/api/chat", chatBody(false, 2))
		if err != nil || code != 200 {
			t.Errorf("%s: serving after reload: %d %v %s", tt.name, code, err, body)
		}
	}
	if !has(a.URL) || !has(b.URL) {
		t.Errorf("final reload not applied: %+v", adminUpstreams(t, br.URL))
	}
	if v := metricValue(t, br.URL, "bridge_config_reloads_total", `result="failure"`); v != 4 {
		t.Errorf("failed reloads counted %v; want 4", v)
	}
	if v := metricValue(t, br.URL, "bridge_config_reloads_total", `result="success"`); v != 2 {
		t.Errorf("good reloads counted %v; want 2", v)
	}
}

// /metrics has every series the dashboards and the seed's PromQL use.
func TestMetricsExposed(t *testing.T) {
	t.Parallel()
	sim := startSim(t)
	br, _ := startBridge(t, upstreamsYAML([]string{sim.URL}), "--instance-id", "bridge-7")
	for _, body := range []string{chatBody(false, 2), chatBody(true, 2)} {
		if code, b, err := post(t, http.DefaultClient, br.URL+"/api/chat", body); err != nil || code != 200 {
			t.Fatalf("%d %v %s", code, err, b)
		}
	}
	resp, err := http.Get(br.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`bridge_requests_total{code="200",model="tiny:latest",route="chat"} 2`,
		// Two client requests; the readiness probes before them are not client traffic.
		"bridge_request_duration_seconds_sum ", "bridge_request_duration_seconds_count 2\n",
		"bridge_time_to_first_token_seconds_count{", "bridge_overhead_seconds_count",
		`bridge_upstream_up{upstream="` + sim.URL + `"} 1`, `bridge_upstream_circuit_state{upstream="` + sim.URL + `"} 0`,
		"bridge_upstream_in_flight{", `bridge_upstream_requests_total{outcome="success"`,
		"bridge_retries_total 0", "bridge_failovers_total 0", "bridge_ready 1", "bridge_draining 0",
		`bridge_config_reloads_total{result="success"} 0`, `instance_id="bridge-7"`,
		"go_goroutines", "process_cpu_seconds_total",
	} {
		if !strings.Contains(string(page), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

package bridge_test

import (
	"context"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dsbridge/dsbridge/internal/testproc"
)

// The bench's steady scenario found this: a machine stall of a few seconds
// under load made every attempt fail (the health checker cut them as it
// declared the instances dead), so the passive check and the breakers took
// every instance out for fail_timeout / open_for, 30 s by default; the
// health checks saw the instances back within a second, but the bridge
// answered 503 "no upstream available" without trying anyone until the
// windows ran out. Here all three sims are SIGSTOPped for 4 s under load;
// within 3 s of SIGCONT the bridge must serve again, and then keep serving.
func TestFleetStallRecoversWithinSeconds(t *testing.T) {
	t.Parallel()
	sims := []*testproc.Proc{startSim(t), startSim(t), startSim(t)}
	urls := make([]string, len(sims))
	for i, s := range sims {
		urls[i] = s.URL
	}
	br, _ := startBridge(t, upstreamsYAML(urls))
	signalAll := func(sig syscall.Signal) {
		for _, s := range sims {
			_ = syscall.Kill(s.Cmd.Process.Pid, sig)
		}
	}
	t.Cleanup(func() { signalAll(syscall.SIGCONT) })

	// Load across the stall, so that attempts fail on every instance.
	ctx, cancel := context.WithTimeout(context.Background(), 5500*time.Millisecond)
	defer cancel()
	loadDone := make(chan *loadResult, 1)
	go func() { loadDone <- runLoad(ctx, br.URL, 12) }()
	time.Sleep(1 * time.Second)
	signalAll(syscall.SIGSTOP)
	time.Sleep(4 * time.Second)
	signalAll(syscall.SIGCONT)
	resumed := time.Now()
	res := <-loadDone
	t.Logf("during the stall: ok %d failed %d; failures counted: %v", res.ok, res.failed,
		metricValue(t, br.URL, "bridge_upstream_requests_total", `outcome="failure"`))

	c := &http.Client{Timeout: 5 * time.Second}
	var code int
	var body string
	testproc.Eventually(t, 3*time.Second, "a request served after the stall", func() bool {
		var err error
		code, body, err = post(t, c, br.URL+"/api/chat", chatBody(false, 2))
		return err == nil && code == 200
	})
	t.Logf("serving again %v after SIGCONT", time.Since(resumed).Round(time.Millisecond))
	for i := 0; i < 30; i++ {
		code, body, _ = post(t, c, br.URL+"/api/chat", chatBody(false, 2))
		if code != 200 || !strings.Contains(body, `"done":true`) {
			t.Fatalf("request %d after recovery: %d %s", i, code, body)
		}
	}
}

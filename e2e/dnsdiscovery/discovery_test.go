package dnsdiscovery

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dsbridge/dsbridge/internal/testproc"
	"github.com/dsbridge/dsbridge/loadgen"
)

const (
	name  = "ollama.dsbridge.test."
	model = "deepseek-r1:7b"
)

// startSims starts one simulator per IP, all on the same port, streaming
// 10 tokens at 50 tokens/s (200 ms per request) so that requests are in
// flight whenever the records change.
func startSims(t *testing.T, ips ...string) (port string, sims map[string]*testproc.Proc) {
	t.Helper()
	_, port, _ = net.SplitHostPort(testproc.FreeAddr(t))
	sims = map[string]*testproc.Proc{}
	for _, ip := range ips {
		addr := net.JoinHostPort(ip, port)
		p := testproc.StartArgs(t, addr, "sim", "--listen", addr, "--models", model, "--profile", "instant",
			"--tokens-per-second", "50", "--parallel", "16")
		testproc.WaitHTTP(t, p, "/", 15*time.Second)
		sims[ip] = p
	}
	return port, sims
}

// upstreams is the bridge's GET /admin/upstreams: URL → healthy.
func upstreams(t *testing.T, bridge *testproc.Proc) map[string]bool {
	t.Helper()
	resp, err := http.Get(bridge.URL + "/admin/upstreams")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Upstreams []struct {
			URL     string `json:"url"`
			Healthy bool   `json:"healthy"`
		} `json:"upstreams"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	m := map[string]bool{}
	for _, u := range out.Upstreams {
		m[u.URL] = u.Healthy
	}
	return m
}

// served is how many chat requests a simulator has answered.
func served(t *testing.T, sim *testproc.Proc) int {
	t.Helper()
	resp, err := http.Get(sim.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "ollamasim_requests_total{") && strings.Contains(line, `endpoint="/api/chat"`) {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			n += int(v)
		}
	}
	return n
}

func urlsOf(port string, ips ...string) []string {
	var out []string
	for _, ip := range ips {
		out = append(out, "http://"+net.JoinHostPort(ip, port))
	}
	return out
}

// TestFollowsARecordsUnderLoad: records added under load become upstreams
// (and take traffic), removed ones stop getting requests while theirs
// finish, a failed lookup keeps the last set, and not one request fails.
func TestFollowsARecordsUnderLoad(t *testing.T) {
	dns := startDNS(t)
	port, sims := startSims(t, "127.0.0.2", "127.0.0.3", "127.0.0.4")
	dns.setA(name, "127.0.0.2")
	bridge := testproc.Start(t, "serve", "/ready",
		"--policy", "round_robin", "--upstreams-dns", name+",port="+port+",server="+dns.addr+",interval=200ms")

	want := func(ips ...string) {
		t.Helper()
		wantURLs := urlsOf(port, ips...)
		testproc.Eventually(t, 10*time.Second, "upstreams "+strings.Join(wantURLs, " "), func() bool {
			got := upstreams(t, bridge)
			if len(got) != len(wantURLs) {
				return false
			}
			for _, u := range wantURLs {
				if !got[u] {
					return false
				}
			}
			return true
		})
	}
	want("127.0.0.2")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	type outcome struct {
		rs  *loadgen.Results
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		rs, err := loadgen.Run(ctx, loadgen.Config{
			Target: bridge.URL, Pacer: loadgen.ConstantPacer(30), Duration: 20 * time.Second,
			Mix: loadgen.DefaultMix(model, 8, 10), Model: model, Timeout: 30 * time.Second,
		})
		done <- outcome{rs, err}
	}()

	time.Sleep(2 * time.Second)
	dns.setA(name, "127.0.0.2", "127.0.0.3")
	want("127.0.0.2", "127.0.0.3")
	dns.setA(name, "127.0.0.2", "127.0.0.3", "127.0.0.4")
	want("127.0.0.2", "127.0.0.3", "127.0.0.4")
	testproc.Eventually(t, 10*time.Second, "traffic on the added instances", func() bool {
		return served(t, sims["127.0.0.3"]) > 0 && served(t, sims["127.0.0.4"]) > 0
	})

	// The name stops resolving: a DNS failure is not the fleet going away.
	q := dns.queryCount()
	dns.remove(name)
	testproc.Eventually(t, 10*time.Second, "failed lookups", func() bool { return dns.queryCount() >= q+6 })
	if got := upstreams(t, bridge); len(got) != 3 {
		t.Fatalf("after failed lookups the bridge has %d upstreams, want the last known 3: %v", len(got), got)
	}

	// A pod goes away: its record first, then (after its requests have
	// finished) the process.
	dns.setA(name, "127.0.0.3", "127.0.0.4")
	want("127.0.0.3", "127.0.0.4")
	time.Sleep(3 * time.Second) // in-flight requests finish (200 ms each; seconds on a loaded machine)
	before := served(t, sims["127.0.0.2"])
	time.Sleep(1500 * time.Millisecond)
	if after := served(t, sims["127.0.0.2"]); after != before {
		t.Errorf("removed instance still got %d new requests", after-before)
	}
	if err := sims["127.0.0.2"].Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}

	out := <-done
	if out.err != nil {
		t.Fatal(out.err)
	}
	rs := out.rs
	t.Logf("requests %d, failed %d, p99 %.1f ms; served by .2 %d, .3 %d, .4 %d", rs.Requests.Total, rs.Requests.Failed,
		rs.Latency.P99, before, served(t, sims["127.0.0.3"]), served(t, sims["127.0.0.4"]))
	if rs.Requests.Failed != 0 || rs.Requests.Dropped != 0 || rs.Requests.Total != rs.Requests.Scheduled {
		t.Errorf("requests: %+v, errors %v %v", rs.Requests, rs.Errors, rs.ErrorSample)
	}
	if rs.Requests.Total < 600 {
		t.Errorf("only %d requests: the load did not run", rs.Requests.Total)
	}
}

// TestSRVRecords: with type=SRV each target's address and the record's own
// port become an upstream.
func TestSRVRecords(t *testing.T) {
	dns := startDNS(t)
	portA, _ := startSims(t, "127.0.0.5")
	portB, _ := startSims(t, "127.0.0.6")
	dns.setA("a.pods.dsbridge.test.", "127.0.0.5")
	dns.setA("b.pods.dsbridge.test.", "127.0.0.6")
	dns.setSRV("_ollama._tcp.dsbridge.test.", "a.pods.dsbridge.test.:"+portA, "b.pods.dsbridge.test.:"+portB)
	bridge := testproc.Start(t, "serve", "/ready",
		"--upstreams-dns", "_ollama._tcp.dsbridge.test.,type=SRV,server="+dns.addr)
	got := upstreams(t, bridge)
	var urls []string
	for u := range got {
		urls = append(urls, u)
	}
	slices.Sort(urls)
	want := []string{"http://127.0.0.5:" + portA, "http://127.0.0.6:" + portB}
	slices.Sort(want)
	if !slices.Equal(urls, want) {
		t.Fatalf("upstreams %v, want %v", urls, want)
	}
	resp, err := http.Post(bridge.URL+"/api/chat", "application/json",
		strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"hi"}],"stream":false}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("chat through SRV-discovered upstreams: status %d", resp.StatusCode)
	}
}

// TestReResolvesWhenAnInstanceFails: with an hour between lookups, an
// instance that dies makes the bridge look again at once, and so learn
// that its record is gone.
func TestReResolvesWhenAnInstanceFails(t *testing.T) {
	dns := startDNS(t)
	port, sims := startSims(t, "127.0.0.7", "127.0.0.8")
	dns.setA(name, "127.0.0.7", "127.0.0.8")
	bridge := testproc.Start(t, "serve", "/ready",
		"--upstreams-dns", name+",port="+port+",server="+dns.addr+",interval=1h")
	if got := upstreams(t, bridge); len(got) != 2 {
		t.Fatalf("upstreams %v, want both instances", got)
	}
	dns.setA(name, "127.0.0.7")
	if err := sims["127.0.0.8"].Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	want := urlsOf(port, "127.0.0.7")[0]
	testproc.Eventually(t, 20*time.Second, "the dead instance's record dropped", func() bool {
		got := upstreams(t, bridge)
		return len(got) == 1 && got[want]
	})
}

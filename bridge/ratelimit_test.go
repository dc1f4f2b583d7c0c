package bridge_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dsbridge/dsbridge/internal/testproc"
)

// TestClientIPAndAllowList: connections from distinct loopback addresses
// (127.0.0.2 is the trusted proxy, .3 and .4 are direct clients). A spoofed
// X-Forwarded-For from an untrusted peer changes nothing, neither for the
// allow-list nor for the rate limit; from the trusted proxy the real client
// (walked from the right) is what both use. Refused requests reach no
// upstream.
func TestClientIPAndAllowList(t *testing.T) {
	lc := newLeakCheck(t)
	sim := startSim(t)
	b, _ := startBridge(t, upstreamsYAML([]string{sim.URL})+loggingYAML+`
rate_limit:
  enabled: true
  per_ip: {requests_per_minute: 1, burst: 3}
`, "--allow-cidr", "10.1.0.0/16", "--allow-cidr", "127.0.0.3", "--allow-cidr", "127.0.0.1/32", "--trusted-proxy", "127.0.0.2/32")
	lc.watch(b)
	before := upstreamCalls(t, sim)
	served := 0
	for _, c := range []struct {
		name, peer, xff string
		want            int
	}{
		{"untrusted peer outside the list", "127.0.0.4", "", 403},
		{"untrusted peer spoofing an allowed address", "127.0.0.4", "10.1.2.3", 403},
		{"allowed peer, spoofed header ignored", "127.0.0.3", "192.168.9.9", 200},
		{"allowed peer, another spoof: same bucket", "127.0.0.3", "10.1.0.1", 200},
		{"allowed peer, third request: burst of 3 used", "127.0.0.3", "10.1.0.2", 200},
		{"allowed peer, fresh spoof gives no fresh bucket", "127.0.0.3", "10.1.0.3", 429},
		{"trusted proxy itself is not allowed", "127.0.0.2", "", 403},
		{"proxy forwarding a client outside the list", "127.0.0.2", "192.168.9.9", 403},
		{"proxy forwarding 10.1.2.3 (1)", "127.0.0.2", "10.1.2.3", 200},
		{"proxy forwarding 10.1.2.3 (2)", "127.0.0.2", "10.1.2.3", 200},
		{"proxy forwarding 10.1.2.3 (3)", "127.0.0.2", "10.1.2.3", 200},
		{"proxy forwarding 10.1.2.3: its own bucket is empty", "127.0.0.2", "10.1.2.3", 429},
		{"client-written entries left of the real client are ignored", "127.0.0.2", "10.1.2.4, 10.1.2.3", 429},
		{"another client behind the proxy has its own bucket", "127.0.0.2", "10.1.2.4", 200},
		{"walked past a trusted hop", "127.0.0.2", "10.1.8.8, 127.0.0.2", 200},
	} {
		var hdr []string
		if c.xff != "" {
			hdr = []string{"X-Forwarded-For", c.xff}
		}
		resp, body := send(t, c.peer, b.URL+"/api/chat", "", guardChat(false, 2), hdr...)
		if resp.StatusCode != c.want {
			t.Errorf("%s: %d %s; want %d", c.name, resp.StatusCode, body, c.want)
		}
		if c.want == 200 {
			served++
		}
	}
	expectUpstreamCalls(t, sim, before, served, "the served ones")
	// The admin API's "loopback callers only" rule sees the client too: a
	// trusted proxy on the same host does not make everyone local.
	if resp, body := send(t, "127.0.0.2", b.URL+"/admin/reload", "", "", "X-Forwarded-For", "10.1.2.3"); resp.StatusCode != 403 {
		t.Errorf("reload forwarded for 10.1.2.3: %d %s; want 403", resp.StatusCode, body)
	}
	if resp, body := send(t, "127.0.0.3", b.URL+"/admin/reload", "", ""); resp.StatusCode != 200 {
		t.Errorf("reload from loopback 127.0.0.3: %d %s; want 200", resp.StatusCode, body)
	}
	if got := metricValue(t, b.URL, "bridge_auth_rejections_total", `reason="ip_not_allowed"`); got != 4 {
		t.Errorf("ip_not_allowed rejections %v; want 4", got)
	}
	if got := metricValue(t, b.URL, "bridge_rate_limited_total", `scope="ip"`, `kind="requests"`); got != 3 {
		t.Errorf("ip request limits %v; want 3", got)
	}
}

// burst sends n requests at once from one address and returns the
// statuses and one 429's headers.
func burst(t *testing.T, url string, n int) (map[int]int, http.Header) {
	t.Helper()
	c := clientFrom("127.0.0.1")
	var mu sync.Mutex
	codes := map[int]int{}
	var limited http.Header
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			resp, err := c.Post(url+"/api/chat", "application/json", strings.NewReader(guardChat(false, 2)))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				codes[-1]++
				return
			}
			resp.Body.Close()
			codes[resp.StatusCode]++
			if resp.StatusCode == 429 {
				limited = resp.Header
			}
		}()
	}
	close(gate)
	wg.Wait()
	return codes, limited
}

// TestRateLimitBurst: 201 simultaneous requests from one IP against a
// burst of 200: exactly 200 served, one 429 with Retry-After, RateLimit and
// RateLimit-Policy, and the simulator sees 200. The refill is set to 1/min
// so that the test's own duration cannot add a token.
func TestRateLimitBurst(t *testing.T) {
	lc := newLeakCheck(t)
	sim := startSim(t)
	b, _ := startBridge(t, upstreamsYAML([]string{sim.URL})+loggingYAML, "--rate-limit", "1/min", "--rate-burst", "200")
	lc.watch(b)
	before := upstreamCalls(t, sim)
	codes, h := burst(t, b.URL, 201)
	if codes[200] != 200 || codes[429] != 1 {
		t.Fatalf("statuses %v; want 200×200 and 429×1", codes)
	}
	if h.Get("Retry-After") == "" || h.Get("RateLimit") != `"ip-requests";r=0;t=`+h.Get("Retry-After") ||
		h.Get("RateLimit-Policy") != `"ip-requests";q=1;w=60` {
		t.Errorf("429 headers: Retry-After %q, RateLimit %q, RateLimit-Policy %q", h.Get("Retry-After"), h.Get("RateLimit"), h.Get("RateLimit-Policy"))
	}
	expectUpstreamCalls(t, sim, before, 200, "the burst's served ones")
}

// TestRateLimitSharedRedis: two bridges sharing one real Redis hold one
// combined limit (burst 30: 30 of 50 served, whichever bridge took them).
// Then Redis dies: requests are still answered, never with a 5xx, each
// bridge falling back to its own buckets (on_redis_error: local), and the
// errors are counted.
func TestRateLimitSharedRedis(t *testing.T) {
	rds := testproc.StartRedis(t)
	sim := startSim(t)
	cfg := upstreamsYAML([]string{sim.URL}) + `
rate_limit:
  enabled: true
  per_ip: {requests_per_minute: 1, burst: 30}
  redis: ` + rds.URL + "\n"
	a, _ := startBridge(t, cfg)
	b, _ := startBridge(t, cfg)
	served := 0
	for i := 0; i < 50; i++ {
		target := a
		if i%2 == 1 {
			target = b
		}
		resp, _ := send(t, "127.0.0.1", target.URL+"/api/chat", "", guardChat(false, 2))
		switch resp.StatusCode {
		case 200:
			served++
		case 429:
		default:
			t.Fatalf("request %d: status %d", i, resp.StatusCode)
		}
	}
	if served != 30 {
		t.Errorf("two bridges on one Redis served %d of 50; want 30 (one combined burst)", served)
	}
	for _, p := range []*testproc.Proc{a, b} {
		if got := metricValue(t, p.URL, "bridge_rate_limit_redis_errors_total"); got != 0 {
			t.Errorf("Redis errors with Redis up: %v", got)
		}
	}

	rds.Kill()
	codes := map[int]int{}
	start := time.Now()
	for i := 0; i < 40; i++ {
		resp, _ := send(t, "127.0.0.1", a.URL+"/api/chat", "", guardChat(false, 2))
		codes[resp.StatusCode]++
	}
	took := time.Since(start)
	t.Logf("Redis down: 40 requests in %v: %v", took.Round(time.Millisecond), codes)
	if codes[200] != 30 || codes[429] != 10 {
		t.Errorf("Redis down, on_redis_error local: %v; want 30 served by the local burst, 10 limited, nothing else", codes)
	}
	if got := metricValue(t, a.URL, "bridge_rate_limit_redis_errors_total"); got < 1 {
		t.Errorf("bridge_rate_limit_redis_errors_total %v after Redis died", got)
	}
}

// TestTokenBudget: a credential with 100 tokens a minute. A streamed
// request asking for 150 is admitted (the bucket is full) and runs to its
// end, not cut; its real count puts the bucket in debt, and the next
// request, however small, is refused with 429 (credential, tokens).
func TestTokenBudget(t *testing.T) {
	lc := newLeakCheck(t)
	sim := startSim(t)
	const key = "sk-budget-0123456789abcdef"
	lc.add(key)
	keys := writeFile(t, "keys.yaml", "keys:\n  - name: small\n    key: "+key+"\n    tokens_per_minute: 100\n")
	b, _ := startBridge(t, upstreamsYAML([]string{sim.URL})+loggingYAML+"rate_limit:\n  enabled: true\n",
		"--api-key-file", keys)
	lc.watch(b)
	// Failed requests get their charge back: three 404s asking for 60
	// tokens each would need 180 of the 100 otherwise.
	for i := 0; i < 3; i++ {
		resp, body := send(t, "", b.URL+"/api/chat", key, strings.Replace(guardChat(false, 60), `"tiny"`, `"nope"`, 1))
		if resp.StatusCode != 404 {
			t.Fatalf("unknown model %d: %d %s; want 404 (its charge given back)", i, resp.StatusCode, body)
		}
	}
	resp, body := send(t, "", b.URL+"/api/chat", key, guardChat(true, 150))
	lines := strings.Split(strings.TrimSpace(body), "\n")
	var last struct {
		Done       bool `json:"done"`
		EvalCount  int  `json:"eval_count"`
		PromptEval int  `json:"prompt_eval_count"`
	}
	// The simulator may end before num_predict (done_reason "stop"); what
	// matters is that the stream used more than the whole budget and was
	// not cut for it.
	if resp.StatusCode != 200 || json.Unmarshal([]byte(lines[len(lines)-1]), &last) != nil || !last.Done ||
		last.EvalCount+last.PromptEval <= 100 || len(lines) != last.EvalCount+1 {
		t.Fatalf("the admitted stream: %d, %d lines, last %q; want it whole, done, over 100 tokens", resp.StatusCode, len(lines), lines[len(lines)-1])
	}
	resp, body = send(t, "", b.URL+"/api/chat", key, guardChat(false, 1))
	if resp.StatusCode != 429 || resp.Header.Get("RateLimit-Policy") != `"credential-tokens";q=100;w=60` {
		t.Errorf("next request: %d %s (RateLimit-Policy %q); want 429 for credential tokens", resp.StatusCode, body, resp.Header.Get("RateLimit-Policy"))
	}
	if got := metricValue(t, b.URL, "bridge_rate_limited_total", `scope="credential"`, `kind="tokens"`); got != 1 {
		t.Errorf("credential token limits %v; want 1", got)
	}
}

// TestRequestCaps: num_predict above the cap and a prompt above its cap
// are 400 and reach no upstream; a request that sets no num_predict is
// capped (the simulator generates exactly the cap).
func TestRequestCaps(t *testing.T) {
	lc := newLeakCheck(t)
	sim := startSim(t)
	b, _ := startBridge(t, upstreamsYAML([]string{sim.URL})+loggingYAML+"limits:\n  max_num_predict: 20\n  max_prompt_bytes: 400\n")
	lc.watch(b)
	before := upstreamCalls(t, sim)
	if resp, body := send(t, "", b.URL+"/api/chat", "", guardChat(false, 50)); resp.StatusCode != 400 || !strings.Contains(body, "max_num_predict") {
		t.Errorf("num_predict 50 over a cap of 20: %d %s", resp.StatusCode, body)
	}
	long := `{"model":"tiny","stream":false,"messages":[{"role":"user","content":"` + strings.Repeat("a", 500) + `"}]}`
	if resp, body := send(t, "", b.URL+"/api/chat", "", long); resp.StatusCode != 400 || !strings.Contains(body, "max_prompt_bytes") {
		t.Errorf("500-byte prompt over a cap of 400: %d %s", resp.StatusCode, body)
	}
	if resp, body := send(t, "", b.URL+"/v1/chat/completions", "", `{"model":"tiny","max_tokens":21,"messages":[{"role":"user","content":"hi"}]}`); resp.StatusCode != 400 {
		t.Errorf("max_tokens 21 over a cap of 20: %d %s", resp.StatusCode, body)
	}
	expectUpstreamCalls(t, sim, before, 0, "refused requests")
	for _, c := range []struct{ path, body, count string }{
		{"/api/chat", `{"model":"tiny","stream":false,"messages":[{"role":"user","content":"hi"}],"options":{"temperature":0}}`, `"eval_count":20`},
		{"/api/generate", `{"model":"tiny","stream":false,"prompt":"hi"}`, `"eval_count":20`},
		{"/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":"hi"}]}`, `"completion_tokens":20`},
	} {
		resp, body := send(t, "", b.URL+c.path, "", c.body)
		if resp.StatusCode != 200 || !strings.Contains(body, c.count) {
			t.Errorf("%s without a limit: %d %s; want %s", c.path, resp.StatusCode, body, c.count)
		}
	}
}

// TestCredentialRequestLimit: a key's own request rate (1/min, burst 2)
// applies to the key wherever it comes from.
func TestCredentialRequestLimit(t *testing.T) {
	lc := newLeakCheck(t)
	sim := startSim(t)
	const key = "sk-slow-0123456789abcdef"
	lc.add(key)
	keys := writeFile(t, "keys.yaml", "keys:\n  - name: slow\n    key: "+key+"\n    requests_per_minute: 1\n    burst: 2\n")
	b, _ := startBridge(t, upstreamsYAML([]string{sim.URL})+loggingYAML+"rate_limit:\n  enabled: true\n", "--api-key-file", keys)
	lc.watch(b)
	var codes []int
	for _, peer := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"} {
		resp, _ := send(t, peer, b.URL+"/api/chat", key, guardChat(false, 2))
		codes = append(codes, resp.StatusCode)
		if resp.StatusCode == 429 && resp.Header.Get("RateLimit-Policy") != `"credential-requests";q=1;w=60` {
			t.Errorf("RateLimit-Policy %q", resp.Header.Get("RateLimit-Policy"))
		}
	}
	if codes[0] != 200 || codes[1] != 200 || codes[2] != 429 {
		t.Errorf("statuses %v from three addresses; want 200 200 429", codes)
	}
}

// TestRedisUnreachablePolicies: with Redis unreachable from the start,
// on_redis_error allow serves and deny answers 503 with Retry-After;
// neither ever 500.
func TestRedisUnreachablePolicies(t *testing.T) {
	sim := startSim(t)
	dead := "redis://" + testproc.DeadAddr(t)
	for policy, want := range map[string]int{"allow": 200, "deny": 503} {
		b, _ := startBridge(t, upstreamsYAML([]string{sim.URL})+"rate_limit:\n  enabled: true\n  redis: "+dead+"\n  on_redis_error: "+policy+"\n")
		for i := 0; i < 5; i++ {
			resp, body := send(t, "", b.URL+"/api/chat", "", guardChat(false, 2))
			if resp.StatusCode != want {
				t.Fatalf("%s: %d %s; want %d", policy, resp.StatusCode, body, want)
			}
			if want == 503 && resp.Header.Get("Retry-After") != "1" {
				t.Errorf("deny: Retry-After %q", resp.Header.Get("Retry-After"))
			}
		}
		if got := metricValue(t, b.URL, "bridge_rate_limit_redis_errors_total"); got < 1 {
			t.Errorf("%s: Redis errors %v", policy, got)
		}
		if r, err := http.Get(b.URL + "/ready"); err != nil || r.StatusCode != 200 {
			t.Errorf("%s: not ready with Redis down", policy)
		}
	}
}

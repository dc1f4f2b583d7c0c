package bridge

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// deadUpstreamAddr is a loopback URL where nothing listens: a guaranteed
// ECONNREFUSED, the cheapest dial error there is.
func deadUpstreamAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// fakeOllama answers the bridge's polls with model "tiny" and everything
// else with status and body, counting the calls.
func fakeOllama(t *testing.T, status int, body string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/ps" || r.URL.Path == "/api/tags" {
			_, _ = io.WriteString(w, `{"models":[{"name":"tiny:latest"}]}`)
			return
		}
		n.Add(1)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(s.Close)
	return s, &n
}

// minimalBridge runs the handler in-process on upstreams, in the given
// order, with round robin so the first request goes to the first listed.
func minimalBridge(t *testing.T, edit func(*Config), upstreams ...string) (*httptest.Server, *Handler, *prometheus.Registry) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Policy = "round_robin"
	for _, u := range upstreams {
		cfg.Upstreams = append(cfg.Upstreams, UpstreamConfig{URL: u})
	}
	if edit != nil {
		edit(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	h := NewHandler(cfg, Options{Registry: reg, Logger: discardLogger()})
	ctx, cancel := context.WithCancel(context.Background())
	h.Start(ctx)
	// Dead addresses fail the start-up check; for these tests they must
	// stay in rotation so that the dial error path is exercised.
	for _, u := range h.state.Load().pool.all {
		u.healthy.Store(true)
	}
	cancel()
	h.Stop()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s, h, reg
}

func TestRetries(t *testing.T) {
	const ok = `{"done":true}`
	tests := []struct {
		name      string
		first     func(t *testing.T) (string, *atomic.Int64) // the upstream tried first
		code      int
		wantBody  string
		secondHit int64   // calls the healthy second upstream gets
		failures  float64 // failures charged to the first
	}{
		// Connection refused: retried, charged.
		{"dial error", func(t *testing.T) (string, *atomic.Int64) { return deadUpstreamAddr(t), nil }, 200, ok, 1, 1},
		// Ollama's queue full: retried, charged.
		{"503 busy", func(t *testing.T) (string, *atomic.Int64) {
			s, n := fakeOllama(t, 503, `{"error":"server busy, please try again.  maximum pending requests exceeded"}`)
			return s.URL, n
		}, 200, ok, 1, 1},
		// A 400 caused by the request: passed through, not retried, not charged.
		{"400 bad request", func(t *testing.T) (string, *atomic.Int64) {
			s, n := fakeOllama(t, 400, `{"error":"invalid options"}`)
			return s.URL, n
		}, 400, `{"error":"invalid options"}`, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first, firstCalls := tt.first(t)
			second, secondCalls := fakeOllama(t, 200, ok)
			s, _, reg := minimalBridge(t, nil, first, second.URL)
			resp, err := http.Post(s.URL+"/api/chat", "application/json", strings.NewReader(`{"model":"tiny","stream":false}`))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.code || string(b) != tt.wantBody {
				t.Errorf("got %d %q; want %d %q", resp.StatusCode, b, tt.code, tt.wantBody)
			}
			if firstCalls != nil && firstCalls.Load() != 1 {
				t.Errorf("first upstream got %d calls; want 1", firstCalls.Load())
			}
			if secondCalls.Load() != tt.secondHit {
				t.Errorf("second upstream got %d calls; want %d", secondCalls.Load(), tt.secondHit)
			}
			got := testutil.ToFloat64(mustVec(t, reg, "bridge_upstream_requests_total", first, "failure"))
			if got != tt.failures {
				t.Errorf("failures charged %v; want %v", got, tt.failures)
			}
		})
	}
}

// When every upstream fails, the client gets the funnel's answer: the last
// upstream's own 503 if there was one, else a 502 naming the attempts.
func TestGivingUp(t *testing.T) {
	busy, _ := fakeOllama(t, 503, `{"error":"server busy"}`)
	s, _, _ := minimalBridge(t, nil, deadUpstreamAddr(t), busy.URL)
	resp, err := http.Post(s.URL+"/api/chat", "application/json", strings.NewReader(`{"model":"tiny"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.Contains(string(b), "server busy") {
		t.Errorf("got %d %s; want the upstream's 503", resp.StatusCode, b)
	}
	s2, _, _ := minimalBridge(t, nil, deadUpstreamAddr(t), deadUpstreamAddr(t))
	resp, err = http.Post(s2.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"tiny"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 502 || !strings.Contains(string(b), `"type":"api_error"`) || !strings.Contains(string(b), "after 2 attempts") {
		t.Errorf("got %d %s; want an OpenAI-form 502 after 2 attempts", resp.StatusCode, b)
	}
}

// The retry budget stops retries from multiplying an overload.
func TestRetryBudget(t *testing.T) {
	busyA, _ := fakeOllama(t, 503, `{"error":"busy"}`)
	busyB, _ := fakeOllama(t, 503, `{"error":"busy"}`)
	s, _, reg := minimalBridge(t, func(c *Config) {
		c.Retry = RetryConfig{MaxAttempts: 2, BudgetRatio: 0, BudgetMin: 3}
		c.Passive.MaxFails = 0
		c.Breaker.Failures = 1000
	}, busyA.URL, busyB.URL)
	for i := 0; i < 10; i++ {
		resp, err := http.Post(s.URL+"/api/chat", "application/json", strings.NewReader(`{"model":"tiny"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if got := testutil.ToFloat64(mustCounter(t, reg, "bridge_retries_total")); got != 3 {
		t.Errorf("retries %v; want 3 (the budget's reserve, no deposits at ratio 0)", got)
	}
}

func TestStatusFor(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{context.Canceled, 499},                            // the client left
		{context.DeadlineExceeded, 504},                    // a time-out
		{&upstreamError{"u", errFirstByteTimeout}, 504},    // wrapped time-out
		{&RetryError{[]error{errUpstreamDead}}, 504},       // hung upstream
		{&upstreamError{"u", DialError{io.EOF}}, 502},      // anything else
		{errNoUpstream, 503},                               // nobody can serve
		{&net.OpError{Op: "read", Err: timeoutErr{}}, 504}, // a net time-out
	}
	for _, tt := range tests {
		if got := statusFor(tt.err); got != tt.want {
			t.Errorf("statusFor(%v) = %d; want %d", tt.err, got, tt.want)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func mustVec(t *testing.T, reg *prometheus.Registry, name, upstream, outcome string) prometheus.Collector {
	t.Helper()
	return metricByLabels(t, reg, name, map[string]string{"upstream": upstream, "outcome": outcome})
}

func mustCounter(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	return metricByLabels(t, reg, name, nil)
}

// metricByLabels finds one sample in reg and wraps it as a collector that
// testutil.ToFloat64 can read (0 when absent).
func metricByLabels(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	v := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
					continue next
				}
			}
			v += m.GetCounter().GetValue()
		}
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "probe"})
	g.Set(v)
	return g
}

// A streamed request honours the first-byte time-out even on one upstream:
// the answer is a 504 in the route's form.
func TestFirstByteTimeout(t *testing.T) {
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/ps" || r.URL.Path == "/api/tags" {
			_, _ = io.WriteString(w, `{"models":[{"name":"tiny:latest"}]}`)
			return
		}
		_, _ = io.ReadAll(r.Body) // so that net/http notices the bridge hanging up
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(hang.Close)
	s, _, _ := minimalBridge(t, func(c *Config) { c.Timeouts.FirstByte = 100 * time.Millisecond }, hang.URL)
	start := time.Now()
	resp, err := http.Post(s.URL+"/api/chat", "application/json", strings.NewReader(`{"model":"tiny"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 504 || !strings.Contains(string(b), "first byte") || time.Since(start) > 3*time.Second {
		t.Errorf("got %d %s after %v; want a 504 after ~100ms", resp.StatusCode, b, time.Since(start))
	}
}

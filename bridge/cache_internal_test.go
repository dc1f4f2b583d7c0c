package bridge

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dsbridge/dsbridge/internal/testproc"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestCacheTenantsDoNotShare runs the handler in-process, in front of a real
// simulator, with Options.Tenant naming the tenant from a header: the
// stand-in for the subject that authentication sets in request.tenant. The
// same deterministic request from another tenant is a miss.
func TestCacheTenantsDoNotShare(t *testing.T) {
	sim := testproc.Start(t, "sim", "/", "--profile", "instant", "--models", "tiny")
	cfg := DefaultConfig()
	cfg.Upstreams = []UpstreamConfig{{URL: sim.URL}}
	cfg.Cache.Backend = "memory"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	h := NewHandler(cfg, Options{Registry: prometheus.NewRegistry(), Logger: discardLogger(),
		Tenant: func(r *http.Request) string { return r.Header.Get("X-Test-Tenant") }})
	h.Start(t.Context())
	defer h.Close()
	srv := httptest.NewServer(h)
	defer srv.Close()

	ask := func(tenant string) (string, string) {
		req, _ := http.NewRequest("POST", srv.URL+"/api/chat", strings.NewReader(
			`{"model":"tiny","stream":false,"messages":[{"role":"user","content":"secret plans"}],"options":{"temperature":0}}`))
		req.Header.Set("X-Test-Tenant", tenant)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
		return resp.Header.Get("X-Cache"), string(b)
	}
	got := []string{}
	for _, tenant := range []string{"acme", "acme", "globex", "globex", ""} {
		x, _ := ask(tenant)
		got = append(got, x)
	}
	if strings.Join(got, " ") != "MISS HIT MISS HIT MISS" {
		t.Errorf("tenants acme, acme, globex, globex, none: X-Cache %v; want MISS HIT MISS HIT MISS", got)
	}
}

// TestCacheOffAllocs holds the hot path with caching off to the allocations
// it had before the cache existed (the hooks are nil checks), and reports
// what a hit costs.
func TestCacheOffAllocs(t *testing.T) {
	off := chatAllocs(t, nil)
	if off > maxChatAllocsOff && !raceEnabled {
		t.Errorf("cache off: %.0f allocs per chat; before the cache it was %d", off, maxChatAllocsOff)
	}
	up, calls := fakeOllama(t, 200, `{"model":"tiny","message":{"role":"assistant","content":"hello there"},"done":true}`)
	_, h, _ := minimalBridge(t, func(c *Config) { c.Cache.Backend = "memory" }, up.URL)
	defer h.Close()
	body := []byte(`{"model":"tiny","stream":false,"messages":[{"role":"user","content":"hi"}],"options":{"temperature":0}}`)
	hit := testing.AllocsPerRun(200, func() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("POST", "/api/chat", bytes.NewReader(body)))
		if w.Code != 200 {
			t.Fatalf("status %d", w.Code)
		}
	})
	if calls.Load() != 1 {
		t.Errorf("%d upstream calls for 201 identical deterministic chats; want 1", calls.Load())
	}
	t.Logf("allocs per chat: cache off %.0f, cache hit %.0f (key: decode and re-encode of the body)", off, hit)
}

// TestCacheMemoryTierBounds: past memory_bytes W-TinyLFU evicts (counted),
// and an entry past its TTL is gone (counted).
func TestCacheMemoryTierBounds(t *testing.T) {
	cfg := defaultCacheConfig()
	cfg.Backend, cfg.MemoryBytes, cfg.MaxEntryBytes, cfg.TTL = "memory", 8<<10, 1<<10, 200*time.Millisecond
	c, err := newResponseCache(cfg, prometheus.NewRegistry(), time.Now, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	for i := 0; i < 100; i++ {
		c.store(cacheKey{byte(i)}, &cacheEntry{contentType: "application/json", body: make([]byte, 500)})
	}
	c.mem.CleanUp()
	if got := c.mem.WeightedSize(); got > uint64(cfg.MemoryBytes) {
		t.Errorf("memory tier holds %d bytes; bound %d", got, cfg.MemoryBytes)
	}
	// otter runs deletion listeners on goroutines of their own.
	testproc.Eventually(t, 5*time.Second, "evictions{size} counted for most of 100 entries of ~770 bytes in 8 KiB",
		func() bool { return testutil.ToFloat64(c.m.evictSize) >= 50 })
	k := cacheKey{0xff}
	c.store(k, &cacheEntry{body: []byte("x")})
	if c.lookup(t.Context(), k) == nil {
		t.Fatal("a fresh entry is missing")
	}
	time.Sleep(400 * time.Millisecond)
	if c.lookup(t.Context(), k) != nil {
		t.Error("an entry past its TTL was served")
	}
	testproc.Eventually(t, 5*time.Second, "evictions{expired} counted", func() bool {
		c.mem.CleanUp()
		return testutil.ToFloat64(c.m.evictExpired) >= 1
	})
}

package bridge_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/dsbridge/dsbridge/internal/testproc"
)

func TestCacheRedisSharedByTwoBridges(t *testing.T) {
	redis := testproc.StartRedis(t)
	sim := startSim(t)
	a := cachedBridge(t, redis.URL, sim)
	b := cachedBridge(t, redis.URL, sim)

	_, xa, bodyA := postX(t, a.URL+"/api/chat", greedyChat)
	_, xb, bodyB := postX(t, b.URL+"/api/chat", greedyChat)
	if xa != "MISS" || xb != "HIT" || bodyA != bodyB {
		t.Fatalf("bridge A: X-Cache %s, bridge B: %s (same body: %v); want MISS then HIT from Redis", xa, xb, bodyA == bodyB)
	}
	if n := metricValue(t, b.URL, "bridge_cache_lookups_total", `tier="redis"`, `result="hit"`); n != 1 {
		t.Errorf("bridge B's Redis hits: %v; want 1", n)
	}
	if n := metricValue(t, a.URL, "bridge_cache_stores_total", `tier="redis"`); n != 1 {
		t.Errorf("bridge A's Redis stores: %v; want 1", n)
	}
	if n := simCalls(t, sim, "/api/chat"); n != 1 {
		t.Errorf("two bridges, one request each: %v upstream calls; want 1", n)
	}
	// The Redis hit was copied into B's memory: the next one stays local.
	postX(t, b.URL+"/api/chat", greedyChat)
	if n := metricValue(t, b.URL, "bridge_cache_lookups_total", `tier="memory"`, `result="hit"`); n != 1 {
		t.Errorf("bridge B's memory hits after a Redis hit: %v; want 1", n)
	}
}

func TestCacheRedisKilledDegradesToMemory(t *testing.T) {
	redis := testproc.StartRedis(t)
	sim := startSim(t)
	b := cachedBridge(t, redis.URL, sim)
	body := func(i int) string {
		return strings.Replace(greedyChat, "why is the sky blue?", fmt.Sprintf("question %d", i), 1)
	}
	for i := 0; i < 5; i++ {
		if code, x, _ := postX(t, b.URL+"/api/chat", body(i)); code != 200 || x != "MISS" {
			t.Fatalf("before the kill: %d %s", code, x)
		}
	}
	redis.Kill()
	// Old keys are served from memory, new ones from the upstreams and
	// stored in memory; nothing fails.
	for round := 0; round < 2; round++ {
		for i := 0; i < 10; i++ {
			code, x, resp := postX(t, b.URL+"/api/chat", body(i))
			want := "HIT"
			if i >= 5 && round == 0 {
				want = "MISS"
			}
			if code != 200 || x != want {
				t.Errorf("Redis dead, round %d, key %d: %d X-Cache %s (want 200 %s): %s", round, i, code, x, want, resp)
			}
		}
	}
	if n := metricValue(t, b.URL, "bridge_cache_redis_errors_total"); n < 1 {
		t.Errorf("bridge_cache_redis_errors_total = %v after Redis died; want > 0", n)
	}
	if n := metricValue(t, b.URL, "bridge_requests_total", `code="5`); n != 0 {
		t.Errorf("%v 5xx answers with Redis dead; want none", n)
	}
	if n := simCalls(t, sim, "/api/chat"); n != 10 {
		t.Errorf("%v upstream calls for 10 distinct requests; want 10", n)
	}
}

func TestCacheRedisDeadFromStart(t *testing.T) {
	sim := startSim(t)
	b := cachedBridge(t, "redis://"+testproc.DeadAddr(t), sim)
	for i := 0; i < 3; i++ {
		code, x, resp := postX(t, b.URL+"/api/chat", greedyChat)
		if code != 200 || (i > 0 && x != "HIT") {
			t.Errorf("request %d with no Redis: %d X-Cache %s: %s", i, code, x, resp)
		}
	}
}

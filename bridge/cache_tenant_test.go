package bridge_test

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCacheKeyedByTenant: with API keys on, the same deterministic request
// from another tenant is a miss (answers never leak across tenants), while
// the same tenant's second request hits — on the real binary, with the
// tenant coming from real credentials, and the key never in the cache key.
func TestCacheKeyedByTenant(t *testing.T) {
	sim := startSim(t)
	keys := filepath.Join(t.TempDir(), "keys.yaml")
	if err := os.WriteFile(keys, []byte(`keys:
  - name: team-a
    key: "sk-team-a-0123456789abcdef"
  - name: team-b
    key: "sk-team-b-0123456789abcdef"
  - name: team-a-second-key
    key: "sk-team-a-fedcba9876543210"
`), 0o600); err != nil {
		t.Fatal(err)
	}
	b, _ := startBridge(t, upstreamsYAML([]string{sim.URL}), "--cache", "memory", "--api-key-file", keys)
	asA := []string{"Authorization", "Bearer sk-team-a-0123456789abcdef"}
	asB := []string{"Authorization", "Bearer sk-team-b-0123456789abcdef"}

	steps := []struct {
		who       []string
		wantCache string
		wantCalls float64
	}{
		{asA, "MISS", 1},
		{asA, "HIT", 1},
		{asB, "MISS", 2}, // another tenant: its own entry
		{asB, "HIT", 2},
	}
	for i, s := range steps {
		code, x, body := postX(t, b.URL+"/api/chat", greedyChat, s.who...)
		if code != 200 || x != s.wantCache {
			t.Fatalf("step %d: %d X-Cache %q (%s); want 200 %s", i, code, x, body, s.wantCache)
		}
		if n := simCalls(t, sim, "/api/chat"); n != s.wantCalls {
			t.Fatalf("step %d: simulator answered %v calls; want %v", i, n, s.wantCalls)
		}
	}
	// Without a credential: refused before the cache or any upstream.
	if code, _, _ := postX(t, b.URL+"/api/chat", greedyChat); code != 401 {
		t.Fatalf("no credential: %d, want 401", code)
	}
	if n := simCalls(t, sim, "/api/chat"); n != 2 {
		t.Fatalf("simulator answered %v calls after a refused request; want 2", n)
	}
}

package bridge

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"testing"
)

// guardChatAllocs is chatAllocs with the guard built from the config as
// edited (nil: off) and the request carrying cred as its bearer.
func guardChatAllocs(t *testing.T, edit func(*Config), cred string) float64 {
	up, _ := fakeOllama(t, 200, `{"model":"tiny","message":{"role":"assistant","content":"hello there"},"done":true}`)
	_, h, _ := minimalBridge(t, edit, up.URL)
	if err := h.StartGuard(context.Background(), h.state.Load().cfg); err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"model":"tiny","stream":false,"messages":[{"role":"user","content":"hi"}]}`)
	serve := func() {
		r := httptest.NewRequest("POST", "/api/chat", bytes.NewReader(body))
		if cred != "" {
			r.Header.Set("Authorization", "Bearer "+cred)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	for i := 0; i < 50; i++ {
		serve()
	}
	return testing.AllocsPerRun(500, serve)
}

// TestGuardOffAllocs: with nothing of the guard configured a chat
// allocates no more than before the guard existed (maxChatAllocsOff); on
// (an API key and a rate limit), the measure sees its work.
func TestGuardOffAllocs(t *testing.T) {
	off := guardChatAllocs(t, nil, "")
	keys := t.TempDir() + "/keys.yaml"
	if err := os.WriteFile(keys, []byte("keys:\n  - name: a\n    key: sk-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	on := guardChatAllocs(t, func(c *Config) {
		c.Auth.APIKeyFile = keys
		c.RateLimit.Enabled = true
		c.RateLimit.PerIP = BucketPair{RequestsPerMinute: 1 << 30, Burst: 1 << 20} // never refuses here
	}, "sk-0123456789abcdef")
	t.Logf("allocs per chat: guard off %.0f, on %.0f", off, on)
	if off > maxChatAllocsOff && !raceEnabled {
		t.Errorf("guard off: %.0f allocs per chat; before the guard it was %d", off, maxChatAllocsOff)
	}
	if on <= off {
		t.Errorf("guard on %.0f allocs, off %.0f: the measure does not see the guard", on, off)
	}
}

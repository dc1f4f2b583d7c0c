package bridge

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
)

// TestLocalLimiterRefund pins what the token budgets rely on in
// golang.org/x/time/rate: a charge past the bucket leaves debt that the
// next request waits off, and a negative reservation gives tokens back.
func TestLocalLimiterRefund(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newLocalLimiter(func() time.Time { return now })
	ctx := context.Background()
	bl := bucketLimit{perMinute: 60, burst: 10} // one token a second
	if ok, _, _ := l.take(ctx, "k", bl, 10); !ok {
		t.Fatal("a full bucket refused its burst")
	}
	if ok, d, _ := l.take(ctx, "k", bl, 1); ok || d != time.Second {
		t.Fatalf("empty bucket: ok %v, retry after %v; want refused, 1s", ok, d)
	}
	_ = l.adjust(ctx, "k", bl, -6) // refund
	if ok, _, _ := l.take(ctx, "k", bl, 6); !ok {
		t.Fatal("refunded tokens not usable")
	}
	_ = l.adjust(ctx, "k", bl, 25) // overrun: 25 tokens of debt
	if ok, d, _ := l.take(ctx, "k", bl, 1); ok || d != 26*time.Second {
		t.Fatalf("in debt: ok %v, retry after %v; want refused, 26s", ok, d)
	}
	now = now.Add(26 * time.Second)
	if ok, _, _ := l.take(ctx, "k", bl, 1); !ok {
		t.Fatal("debt paid off, still refused")
	}
	// A request bigger than the bucket passes once, when it is full.
	now = now.Add(time.Minute)
	if ok, _, _ := l.take(ctx, "k", bl, 500); !ok {
		t.Fatal("oversized request refused on a full bucket")
	}
}

// TestWalkForwarded: X-Forwarded-For is believed only from trusted peers,
// and only up to the first untrusted hop from the right.
func TestWalkForwarded(t *testing.T) {
	trusted, _ := parsePrefixes([]string{"10.0.0.0/8", "::1"})
	c := &clientAddrs{trusted: trusted}
	a := netip.MustParseAddr
	for _, tc := range []struct {
		peer string
		xff  []string
		want string
	}{
		{"192.0.2.1", []string{"198.51.100.7"}, "192.0.2.1"},             // untrusted peer: header ignored
		{"10.0.0.1", nil, "10.0.0.1"},                                    // trusted, no header: the proxy itself
		{"10.0.0.1", []string{"198.51.100.7"}, "198.51.100.7"},           // one hop
		{"10.0.0.1", []string{"1.1.1.1, 198.51.100.7"}, "198.51.100.7"},  // the client's own entry is not believed
		{"10.0.0.1", []string{"198.51.100.7, 10.0.0.9"}, "198.51.100.7"}, // past a trusted hop
		{"10.0.0.1", []string{"198.51.100.7", "10.0.0.9"}, "198.51.100.7"},
		{"10.0.0.1", []string{"10.0.0.8, 10.0.0.9"}, "10.0.0.8"},      // all trusted: the leftmost
		{"10.0.0.1", []string{"198.51.100.7, junk"}, "10.0.0.1"},      // garbage stops at the last trusted hop
		{"10.0.0.1", []string{"::ffff:198.51.100.7"}, "198.51.100.7"}, // mapped addresses unmapped
		{"::1", []string{"2001:db8::1 , , 10.1.1.1"}, "2001:db8::1"},  // blanks skipped
		{"10.0.0.1", []string{"198.51.100.7:443"}, "10.0.0.1"},        // not an address
		{"10.0.0.1", []string{"", "  "}, "10.0.0.1"},                  // empty values
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = netip.AddrPortFrom(a(tc.peer), 5000).String()
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := c.clientIP(r); got != a(tc.want) {
			t.Errorf("peer %s, X-Forwarded-For %q: got %s; want %s", tc.peer, tc.xff, got, tc.want)
		}
	}
}

func FuzzWalkForwarded(f *testing.F) {
	f.Add("1.2.3.4, 10.0.0.9")
	f.Add(" , ::ffff:1.2.3.4,,")
	trusted, _ := parsePrefixes([]string{"10.0.0.0/8"})
	c := &clientAddrs{trusted: trusted}
	peer := netip.MustParseAddr("10.0.0.1")
	f.Fuzz(func(t *testing.T, xff string) {
		got := c.walkForwarded(peer, []string{xff})
		if !got.IsValid() {
			t.Fatalf("%q: invalid address", xff)
		}
		// The answer is the peer or an address written in the header.
		if got == peer {
			return
		}
		for _, e := range strings.Split(xff, ",") {
			if a, err := netip.ParseAddr(strings.TrimSpace(e)); err == nil && a.Unmap() == got {
				return
			}
		}
		t.Fatalf("%q: %s came from nowhere", xff, got)
	})
}

// FuzzCapTokens: capping a request's output always yields valid JSON that
// asks for exactly the cap and keeps every other key.
func FuzzCapTokens(f *testing.F) {
	f.Add(`{"model":"m","options":{"temperature":0}}`, false)
	f.Add(`{"model":"m","options":{}}`, false)
	f.Add(`{"model":"m","options":null}`, false)
	f.Add(`{"model":"m","max_tokens":null}`, true)
	f.Add(`{"model":"m" , "messages":[{"role":"user","content":"}"}] }`, true)
	f.Fuzz(func(t *testing.T, body string, openai bool) {
		var before map[string]any
		if json.Unmarshal([]byte(body), &before) != nil {
			return
		}
		if _, err := peekBody([]byte(body)); err != nil {
			return
		}
		if requestedTokens([]byte(body), openai).set {
			return // capTokens is only for requests that set none
		}
		out := capTokens([]byte(body), openai, 17)
		var after map[string]any
		if err := json.Unmarshal(out, &after); err != nil {
			t.Fatalf("%q → %q: %v", body, out, err)
		}
		if got := requestedTokens(out, openai); !got.set || got.n != 17 {
			t.Fatalf("%q → %q: asks for %+v", body, out, got)
		}
		for k := range before {
			if _, ok := after[k]; !ok {
				t.Fatalf("%q → %q: lost key %q", body, out, k)
			}
		}
	})
}

func TestGuardDefaults(t *testing.T) {
	c := DefaultConfig()
	if c.RateLimit.Enabled || c.guardOn() {
		t.Error("the guard is on by default")
	}
	if p := c.RateLimit.PerIP; p.RequestsPerMinute != 1000 || p.Burst != 200 {
		t.Errorf("per-IP default %+v; want the seed's 1000/min, burst 200", p)
	}
	if n, err := ParseRateFlag("1000/min"); n != 1000 || err != nil {
		t.Errorf("1000/min: %d %v", n, err)
	}
	for _, bad := range []string{"1000", "x/min", "0/min", "5/day"} {
		if _, err := ParseRateFlag(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	c.Upstreams = []UpstreamConfig{{URL: "http://127.0.0.1:1"}}
	c.Auth.JWT.Key = "/dev/null"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "audience") {
		t.Errorf("JWT without audience and issuer: %v", err)
	}
}

// TestLoadJWTKey: each key type implies its algorithm and admits only
// algorithms of its own family; private keys are refused.
func TestLoadJWTKey(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := dir + "/" + name
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pub := func(k any) []byte {
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	ed, _, _ := ed25519.GenerateKey(rand.Reader)
	for _, c := range []struct {
		name, file, alg string
		bad             []string
	}{
		{"P-384", write("ec.pem", pub(&ec.PublicKey)), "ES384", []string{"ES256", "RS256", "HS384"}},
		{"Ed25519", write("ed.pem", pub(ed)), "EdDSA", []string{"ES256", "HS256"}},
		{"HMAC", write("hmac", []byte(strings.Repeat("s", 40))), "HS256", []string{"RS256", "EdDSA"}},
	} {
		key, alg, err := loadJWTKey(c.file)
		if err != nil || alg != c.alg || !algFitsKey(alg, key) {
			t.Errorf("%s: alg %q, err %v; want %s", c.name, alg, err, c.alg)
		}
		for _, b := range c.bad {
			if algFitsKey(b, key) {
				t.Errorf("%s: %s accepted for this key", c.name, b)
			}
		}
	}
	der, _ := x509.MarshalPKCS8PrivateKey(ec)
	if _, _, err := loadJWTKey(write("priv.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))); err == nil {
		t.Error("a private key was accepted")
	}
}

package bridge_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/dsbridge/dsbridge/internal/testproc"
)

// TestJWTRejections: every kind of bad token gets 401 and reaches no
// upstream; a good one (and one just past exp, within the leeway) is
// served. The simulator's own request counter is the witness.
func TestJWTRejections(t *testing.T) {
	lc := newLeakCheck(t)
	sim := startSim(t)
	key, pubFile, pubPEM := rsaKey(t)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	b, _ := startBridge(t, upstreamsYAML([]string{sim.URL})+loggingYAML,
		"--jwt-key", pubFile, "--jwt-alg", "RS256", "--jwt-audience", testAudience, "--jwt-issuer", testIssuer)
	lc.watch(b)

	with := func(f func(c jwt.MapClaims)) jwt.MapClaims {
		c := validClaims("alice")
		f(c)
		return c
	}
	noneTok, _ := jwt.NewWithClaims(jwt.SigningMethodNone, validClaims("alice")).SignedString(jwt.UnsafeAllowNoneSignatureType)
	big := strings.Repeat("x", 9000)
	cases := []struct {
		name   string
		token  string
		reason string // bridge_auth_rejections_total label; "" = served
	}{
		{"valid", sign(t, jwt.SigningMethodRS256, key, "", validClaims("alice")), ""},
		{"expired within the 30 s leeway", sign(t, jwt.SigningMethodRS256, key, "", with(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-10 * time.Second).Unix() })), ""},
		{"alg none", noneTok, "algorithm"},
		{"HS256 signed with the RSA public key", sign(t, jwt.SigningMethodHS256, pubPEM, "", validClaims("alice")), "algorithm"},
		{"expired", sign(t, jwt.SigningMethodRS256, key, "", with(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-2 * time.Minute).Unix() })), "expired"},
		{"not yet valid", sign(t, jwt.SigningMethodRS256, key, "", with(func(c jwt.MapClaims) { c["nbf"] = time.Now().Add(2 * time.Minute).Unix() })), "not_yet_valid"},
		{"no exp", sign(t, jwt.SigningMethodRS256, key, "", with(func(c jwt.MapClaims) { delete(c, "exp") })), "invalid"},
		{"wrong audience", sign(t, jwt.SigningMethodRS256, key, "", with(func(c jwt.MapClaims) { c["aud"] = "another-service" })), "audience"},
		{"wrong issuer", sign(t, jwt.SigningMethodRS256, key, "", with(func(c jwt.MapClaims) { c["iss"] = "https://evil.test" })), "issuer"},
		{"oversized", sign(t, jwt.SigningMethodRS256, key, "", with(func(c jwt.MapClaims) { c["pad"] = big })), "oversized"},
		{"signed by another key", sign(t, jwt.SigningMethodRS256, other, "", validClaims("alice")), "signature"},
		{"tampered payload", tamper(sign(t, jwt.SigningMethodRS256, key, "", validClaims("alice"))), "signature"},
		{"garbage", "not-a-token", "malformed"},
		{"three dots of garbage", "a.b.c", "malformed"},
	}
	before := upstreamCalls(t, sim)
	served := 0
	for _, c := range cases {
		lc.add(c.token)
		r0 := metricValue(t, b.URL, "bridge_auth_rejections_total", `reason="`+c.reason+`"`)
		resp, body := send(t, "", b.URL+"/api/chat", c.token, guardChat(false, 3))
		if c.reason == "" {
			served++
			if resp.StatusCode != 200 {
				t.Errorf("%s: got %d %s; want 200", c.name, resp.StatusCode, body)
			} else {
				lc.addCompletion(t, body)
			}
			continue
		}
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: got %d %s; want 401", c.name, resp.StatusCode, body)
		}
		if h := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, `Bearer realm="dsbridge"`) || !strings.Contains(h, "invalid_token") {
			t.Errorf("%s: WWW-Authenticate %q", c.name, h)
		}
		var e struct{ Error string }
		if json.Unmarshal([]byte(body), &e) != nil || e.Error == "" {
			t.Errorf("%s: body %q is not Ollama's error shape", c.name, body)
		}
		if got := metricValue(t, b.URL, "bridge_auth_rejections_total", `reason="`+c.reason+`"`) - r0; got != 1 {
			t.Errorf("%s: bridge_auth_rejections_total{reason=%q} rose by %v; want 1", c.name, c.reason, got)
		}
	}
	// No credential at all: 401 with the bare challenge.
	resp, _ := send(t, "", b.URL+"/api/chat", "", guardChat(false, 3))
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Bearer realm="dsbridge"` {
		t.Errorf("no credential: %d, WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	// OpenAI route: 401 in OpenAI's error shape.
	resp, body := send(t, "", b.URL+"/v1/chat/completions", "", `{"model":"tiny","messages":[{"role":"user","content":"`+promptMarker+`"}]}`)
	if resp.StatusCode != 401 || !strings.Contains(body, `"message"`) {
		t.Errorf("v1 no credential: %d %s", resp.StatusCode, body)
	}
	expectUpstreamCalls(t, sim, before, served, "only the served ones")
	// Probes stay open.
	if r, err := http.Get(b.URL + "/health"); err != nil || r.StatusCode != 200 {
		t.Errorf("/health with auth on: %v %v", r, err)
	}
}

// tamper flips the payload to another subject, keeping the signature.
func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	payload = []byte(strings.Replace(string(payload), `"alice"`, `"admin"`, 1))
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}

// TestJWTRights: a valid token without the right is 403 and reaches no
// upstream: a model outside its "models" claim, a management call without
// the admin scope. With the scope, the call goes through.
func TestJWTRights(t *testing.T) {
	lc := newLeakCheck(t)
	sim := startSim(t)
	key, pubFile, _ := rsaKey(t)
	b, _ := startBridge(t, upstreamsYAML([]string{sim.URL})+loggingYAML,
		"--jwt-key", pubFile, "--jwt-audience", testAudience, "--jwt-issuer", testIssuer)
	lc.watch(b)
	limited := validClaims("bob")
	limited["models"] = []string{"llama3*"}
	bob := sign(t, jwt.SigningMethodRS256, key, "", limited)
	plain := sign(t, jwt.SigningMethodRS256, key, "", validClaims("carol"))
	adminClaims := validClaims("root")
	adminClaims["scope"] = "read admin"
	admin := sign(t, jwt.SigningMethodRS256, key, "", adminClaims)
	lc.add(bob, plain, admin)

	before := upstreamCalls(t, sim)
	if resp, body := send(t, "", b.URL+"/api/chat", bob, guardChat(false, 3)); resp.StatusCode != 403 {
		t.Errorf("model outside the claim: %d %s; want 403", resp.StatusCode, body)
	}
	copyBody := `{"source":"tiny","destination":"tiny-copy"}`
	if resp, body := send(t, "", b.URL+"/api/copy", plain, copyBody); resp.StatusCode != 403 {
		t.Errorf("copy without admin scope: %d %s; want 403", resp.StatusCode, body)
	}
	expectUpstreamCalls(t, sim, before, 0, "refused requests")
	if got := metricValue(t, b.URL, "bridge_auth_rejections_total", `reason="model_not_allowed"`); got != 1 {
		t.Errorf("model_not_allowed = %v", got)
	}
	if resp, body := send(t, "", b.URL+"/api/chat", plain, guardChat(false, 3)); resp.StatusCode != 200 {
		t.Errorf("token without a models claim: %d %s", resp.StatusCode, body)
	}
	if resp, body := send(t, "", b.URL+"/api/copy", admin, copyBody); resp.StatusCode != 200 {
		t.Errorf("copy with admin scope: %d %s; want 200", resp.StatusCode, body)
	}
}

// jwksServer publishes one RSA key at a time and counts its fetches.
type jwksServer struct {
	*httptest.Server
	body    atomic.Pointer[[]byte]
	fetches atomic.Int64
}

func newJWKSServer(t *testing.T) *jwksServer {
	s := &jwksServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(*s.body.Load())
	}))
	t.Cleanup(s.Close)
	return s
}

// publish serves key alone under kid.
func (s *jwksServer) publish(kid string, k *rsa.PublicKey) {
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	e := []byte{byte(k.E >> 16), byte(k.E >> 8), byte(k.E)}
	for len(e) > 1 && e[0] == 0 {
		e = e[1:]
	}
	body, _ := json.Marshal(map[string]any{"keys": []map[string]string{{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
		"n": b64(k.N.Bytes()), "e": b64(e)}}})
	s.body.Store(&body)
}

// TestJWKSRotation: the issuer rotates its key (new kid) and the bridge
// accepts tokens of the new key without a restart, and refuses the old
// key's once it is gone from the set; a flood of unknown kids costs at
// most one fetch per jwks_min_interval.
func TestJWKSRotation(t *testing.T) {
	lc := newLeakCheck(t)
	sim := startSim(t)
	keyA, _ := rsa.GenerateKey(rand.Reader, 2048)
	keyB, _ := rsa.GenerateKey(rand.Reader, 2048)
	js := newJWKSServer(t)
	js.publish("key-a", &keyA.PublicKey)
	const minInterval = 2 * time.Second
	b, _ := startBridge(t, upstreamsYAML([]string{sim.URL})+loggingYAML+
		"auth:\n  jwt:\n    jwks_min_interval: 2s\n    jwks_refresh: 1h\n",
		"--jwt-key", js.URL+"/jwks.json", "--jwt-audience", testAudience, "--jwt-issuer", testIssuer)
	lc.watch(b)
	tokA := sign(t, jwt.SigningMethodRS256, keyA, "key-a", validClaims("alice"))
	tokB := sign(t, jwt.SigningMethodRS256, keyB, "key-b", validClaims("alice"))
	lc.add(tokA, tokB)
	if resp, body := send(t, "", b.URL+"/api/chat", tokA, guardChat(false, 2)); resp.StatusCode != 200 {
		t.Fatalf("key A before rotation: %d %s", resp.StatusCode, body)
	}

	js.publish("key-b", &keyB.PublicKey) // rotation: A retired, B in
	// B's kid is unknown; it is fetched once the minimum interval since
	// the start-up fetch has passed.
	testproc.Eventually(t, 3*minInterval, "token of the rotated-in key accepted", func() bool {
		resp, _ := send(t, "", b.URL+"/api/chat", tokB, guardChat(false, 2))
		return resp.StatusCode == 200
	})
	if resp, _ := send(t, "", b.URL+"/api/chat", tokA, guardChat(false, 2)); resp.StatusCode != 401 {
		t.Errorf("key A after rotation: %d; want 401", resp.StatusCode)
	}

	// Flood: 60 tokens with made-up kids, as fast as they go.
	f0 := js.fetches.Load()
	start := time.Now()
	for i := 0; i < 60; i++ {
		tok := sign(t, jwt.SigningMethodRS256, keyB, "made-up-"+strings.Repeat("x", i%7)+string(rune('a'+i%26)), validClaims("mallory"))
		if resp, _ := send(t, "", b.URL+"/api/chat", tok, guardChat(false, 2)); resp.StatusCode != 401 {
			t.Fatalf("unknown kid: %d; want 401", resp.StatusCode)
		}
	}
	took := time.Since(start)
	fetched := js.fetches.Load() - f0
	allowed := int64(took/minInterval) + 1
	t.Logf("60 unknown kids in %v: %d JWKS fetches (at most %d allowed)", took.Round(time.Millisecond), fetched, allowed)
	if fetched > allowed {
		t.Errorf("%d JWKS fetches for 60 unknown kids in %v; want at most %d", fetched, took, allowed)
	}
	if got := metricValue(t, b.URL, "bridge_auth_rejections_total", `reason="unknown_key"`); got < 60 {
		t.Errorf("unknown_key rejections %v; want >= 60", got)
	}
}

// TestAPIKeys: static keys from a file, each with its models and admin
// right; a wrong key is 401, a key without the right 403, neither reaches
// the simulator; admin_token works as an admin credential.
func TestAPIKeys(t *testing.T) {
	lc := newLeakCheck(t)
	sim := startSim(t)
	const alice, ops, wrong, adminTok = "sk-alice-0123456789abcdef", "sk-ops-fedcba9876543210", "sk-wrong-000000000000000", "admin-token-5555aaaa"
	keys := writeFile(t, "keys.yaml", `keys:
  - name: alice
    key: `+alice+`
    models: [tiny]
  - name: ops
    sha256: `+sha256hex(ops)+`
    admin: true
    models: [other]
`)
	lc.add(alice, ops, wrong, adminTok)
	b, _ := startBridge(t, upstreamsYAML([]string{sim.URL})+loggingYAML, "--api-key-file", keys, "--admin-token", adminTok)
	lc.watch(b)
	before := upstreamCalls(t, sim)
	for _, c := range []struct {
		name, cred, path, body string
		want                   int
	}{
		{"wrong key", wrong, "/api/chat", guardChat(false, 2), 401},
		{"no key", "", "/api/tags", "", 401},
		{"alice: tiny is hers", alice, "/api/chat", guardChat(false, 2), 200},
		{"ops: tiny is not in its list", ops, "/api/chat", guardChat(false, 2), 403},
		{"alice: copy needs admin", alice, "/api/copy", `{"source":"tiny","destination":"t2"}`, 403},
		{"ops: admin may copy", ops, "/api/copy", `{"source":"tiny","destination":"t2"}`, 200},
		{"admin_token is an admin credential", adminTok, "/api/copy", `{"source":"tiny","destination":"t3"}`, 200},
	} {
		var resp *http.Response
		var body string
		if c.body == "" {
			req, _ := http.NewRequest(http.MethodGet, b.URL+c.path, nil)
			if c.cred != "" {
				req.Header.Set("Authorization", "Bearer "+c.cred)
			}
			r, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			r.Body.Close()
			resp = r
		} else {
			resp, body = send(t, "", b.URL+c.path, c.cred, c.body)
		}
		if resp.StatusCode != c.want {
			t.Errorf("%s: %d %s; want %d", c.name, resp.StatusCode, body, c.want)
		}
	}
	expectUpstreamCalls(t, sim, before, 3, "the chat and two copies")
	// Lists show a credential only its models.
	get := func(cred, path string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, b.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+cred)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		body, _ := io.ReadAll(r.Body)
		return r.StatusCode, string(body)
	}
	if code, body := get(alice, "/api/tags"); code != 200 || !strings.Contains(body, `"tiny`) {
		t.Errorf("alice's /api/tags: %d %s; want tiny listed", code, body)
	}
	if code, body := get(ops, "/api/tags"); code != 200 || strings.Contains(body, `"tiny`) {
		t.Errorf("ops's /api/tags: %d %s; want tiny not listed", code, body)
	}
	if code, body := get(ops, "/v1/models/tiny"); code != 404 {
		t.Errorf("ops's /v1/models/tiny: %d %s; want 404", code, body)
	}
	if code, body := get(alice, "/v1/models/tiny"); code != 200 {
		t.Errorf("alice's /v1/models/tiny: %d %s; want 200", code, body)
	}
}

// TestJWTHMACSecret: an HMAC secret file instead of a public key; HS256
// tokens made with it pass, ones made with another secret or as RS256 do
// not, and a secret too short to be safe stops the bridge at start-up.
func TestJWTHMACSecret(t *testing.T) {
	lc := newLeakCheck(t)
	sim := startSim(t)
	secret := "0123456789abcdef0123456789abcdef-hmac"
	lc.add(secret)
	file := writeFile(t, "hmac.key", secret+"\n")
	b, _ := startBridge(t, upstreamsYAML([]string{sim.URL})+loggingYAML,
		"--jwt-key", file, "--jwt-audience", testAudience, "--jwt-issuer", testIssuer)
	lc.watch(b)
	rsaPriv, _ := rsa.GenerateKey(rand.Reader, 2048)
	good := sign(t, jwt.SigningMethodHS256, []byte(secret), "", validClaims("hmac-user"))
	forged := sign(t, jwt.SigningMethodHS256, []byte("another-secret-another-secret-xx"), "", validClaims("hmac-user"))
	rs := sign(t, jwt.SigningMethodRS256, rsaPriv, "", validClaims("hmac-user"))
	lc.add(good, forged, rs)
	for _, c := range []struct {
		name, tok string
		want      int
	}{{"HS256 with the secret", good, 200}, {"HS256 with another secret", forged, 401}, {"RS256", rs, 401}} {
		if resp, body := send(t, "", b.URL+"/api/chat", c.tok, guardChat(false, 2)); resp.StatusCode != c.want {
			t.Errorf("%s: %d %s; want %d", c.name, resp.StatusCode, body, c.want)
		}
	}

	short := writeFile(t, "short.key", "too-short")
	cfg := writeFile(t, "b.yaml", upstreamsYAML([]string{sim.URL}))
	p := testproc.StartArgs(t, testproc.FreeAddr(t), "serve", "--config", cfg, "--listen", testproc.FreeAddr(t),
		"--jwt-key", short, "--jwt-audience", testAudience, "--jwt-issuer", testIssuer)
	if code, err := p.Wait(15 * time.Second); err != nil || code == 0 || !strings.Contains(p.Output(), "too short") {
		t.Errorf("a 9-byte HMAC secret: exit %d (%v), output %s", code, err, p.Output())
	}
}

// TestCredentialNotForwarded: with authentication on, the client's
// Authorization header stops at the bridge; the upstream (a recording
// stand-in for Ollama) never sees it.
func TestCredentialNotForwarded(t *testing.T) {
	var seen atomic.Value
	seen.Store("")
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/ps", "/api/tags":
			_, _ = io.WriteString(w, `{"models":[{"name":"tiny:latest","model":"tiny:latest"}]}`)
			return
		}
		seen.Store("chat:" + r.Header.Get("Authorization"))
		_, _ = io.WriteString(w, `{"model":"tiny","message":{"role":"assistant","content":"hi"},"done":true}`)
	}))
	defer up.Close()
	const key = "sk-forward-0123456789abcdef"
	keys := writeFile(t, "keys.yaml", "keys:\n  - name: f\n    key: "+key+"\n")
	b, _ := startBridge(t, upstreamsYAML([]string{up.URL}), "--api-key-file", keys)
	if resp, body := send(t, "", b.URL+"/api/chat", key, guardChat(false, 2)); resp.StatusCode != 200 {
		t.Fatalf("chat: %d %s", resp.StatusCode, body)
	}
	if got := seen.Load().(string); got != "chat:" {
		t.Errorf("the upstream saw %q; want the chat without an Authorization header", got)
	}
}

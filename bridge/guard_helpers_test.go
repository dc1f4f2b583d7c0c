package bridge_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/dsbridge/dsbridge/internal/testproc"
)

// promptMarker is in every prompt the guard tests send: no log line may
// ever carry it.
const promptMarker = "zebra-prompt-7f3a9c"

// guardChat is a chat whose prompt carries the marker.
func guardChat(stream bool, numPredict int) string {
	return `{"model":"tiny","stream":` + map[bool]string{true: "true", false: "false"}[stream] +
		`,"messages":[{"role":"user","content":"` + promptMarker + ` why is the sky blue"}],"options":{"num_predict":` +
		strconv.Itoa(numPredict) + `}}`
}

// leakCheck collects the secrets a test used (tokens, keys) and, when the
// test ends, fails it if any bridge it watched logged one of them, an
// Authorization value, or prompt text. The bridges run with log.level
// debug and log.access all, so every line that could leak is written.
type leakCheck struct {
	mu      sync.Mutex
	secrets []string
	procs   []*testproc.Proc
}

func newLeakCheck(t *testing.T) *leakCheck {
	lc := &leakCheck{secrets: []string{promptMarker, "Bearer "}}
	t.Cleanup(func() {
		lc.mu.Lock()
		defer lc.mu.Unlock()
		for _, p := range lc.procs {
			out := p.Output()
			if !strings.Contains(out, `"message":"request"`) {
				t.Errorf("bridge %s logged no access line: the leak check saw nothing", p.Addr)
			}
			for _, s := range lc.secrets {
				if s != "" && strings.Contains(out, s) {
					t.Errorf("bridge %s logged a secret (%.12s…) ", p.Addr, s)
				}
			}
		}
	})
	return lc
}

func (lc *leakCheck) add(secrets ...string) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	for _, s := range secrets {
		// A JWT's signature part alone must not appear either.
		if i := strings.LastIndexByte(s, '.'); i > 0 && len(s)-i > 16 {
			lc.secrets = append(lc.secrets, s[i+1:])
		}
		lc.secrets = append(lc.secrets, s)
	}
}

// addCompletion adds the answer text of a non-streamed chat response.
func (lc *leakCheck) addCompletion(t *testing.T, body string) {
	t.Helper()
	var r struct {
		Message struct{ Content string } `json:"message"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil || len(r.Message.Content) < 12 {
		t.Fatalf("no completion text to look for in %q", body)
	}
	lc.add(r.Message.Content)
}

func (lc *leakCheck) watch(p *testproc.Proc) *testproc.Proc {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	lc.procs = append(lc.procs, p)
	return p
}

// loggingYAML logs everything: the leak check must see every line.
const loggingYAML = "log:\n  level: debug\n  access: all\n"

// writeFile writes a test file and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// rsaKey makes an RSA key and writes its public half as PEM.
func rsaKey(t *testing.T) (*rsa.PrivateKey, string, []byte) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	return k, writeFile(t, "jwt.pub", string(pemBytes)), pemBytes
}

// sign makes a token; claims default to a valid one for the test bridge.
func sign(t *testing.T, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const (
	testAudience = "dsbridge-test"
	testIssuer   = "https://issuer.test"
)

// validClaims are good for a minute; tweak copies per case.
func validClaims(sub string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{"sub": sub, "aud": testAudience, "iss": testIssuer, "exp": now.Add(time.Minute).Unix(),
		"nbf": now.Add(-time.Minute).Unix(), "iat": now.Unix()}
}

// send posts body with an optional bearer credential from a client bound
// to local (a loopback address such as 127.0.0.2; "" any), with extra
// headers as key, value pairs.
func send(t *testing.T, local, url, cred, body string, hdr ...string) (*http.Response, string) {
	t.Helper()
	c := clientFrom(local)
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if cred != "" {
		req.Header.Set("Authorization", "Bearer "+cred)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// clientFrom returns a client whose connections come from local.
func clientFrom(local string) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, n, a string) (net.Conn, error) { return d.DialContext(ctx, n, a) },
		// Enough idle connections for the burst tests' concurrency.
		MaxIdleConnsPerHost: 512,
	}}
}

// clientEndpoints are the simulator routes client requests reach; its
// other traffic is the bridge's health checks and the harness's own probes.
var clientEndpoints = []string{"/api/chat", "/api/generate", "/api/copy", "/v1/chat/completions", "/api/show"}

// upstreamCalls counts the client requests a simulator answered.
func upstreamCalls(t *testing.T, sim *testproc.Proc) float64 {
	t.Helper()
	n := 0.0
	for _, ep := range clientEndpoints {
		n += metricValue(t, sim.URL, "ollamasim_requests_total", `endpoint="`+ep+`"`)
	}
	return n
}

// expectUpstreamCalls fails unless the simulator answered exactly want
// client requests since before. Its counter moves once an answer is
// written, so the count may lag the client by a moment: waited for.
func expectUpstreamCalls(t *testing.T, sim *testproc.Proc, before float64, want int, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := upstreamCalls(t, sim) - before
		if got == float64(want) {
			return
		}
		if got > float64(want) || time.Now().After(deadline) {
			resp, err := http.Get(sim.URL + "/metrics")
			var page []byte
			if err == nil {
				page, _ = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			var lines []string
			for _, l := range strings.Split(string(page), "\n") {
				if strings.HasPrefix(l, "ollamasim_requests_total") {
					lines = append(lines, l)
				}
			}
			t.Errorf("%s: the simulator answered %v client requests; want %d\n%s", what, got, want, strings.Join(lines, "\n"))
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func sha256hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

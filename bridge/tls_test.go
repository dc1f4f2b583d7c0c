package bridge_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dsbridge/dsbridge/internal/testproc"
)

// writeCert makes a self-signed certificate for 127.0.0.1 with the given
// serial and writes cert and key, each by rename, so the bridge never
// reads a half-written file.
func writeCert(t *testing.T, certFile, keyFile string, serial int64) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "dsbridge-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	put := func(path string, b []byte) {
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	put(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
	put(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// servedSerial handshakes with addr and returns the certificate's serial.
func servedSerial(t *testing.T, addr string) int64 {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// TestTLS: the listener speaks TLS 1.2 and 1.3 only (a TLS 1.1 client
// fails its handshake), with AEAD suites; HTTPS answers carry HSTS; a
// certificate replaced on disk is served to new connections without a
// restart.
func TestTLS(t *testing.T) {
	sim := startSim(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCert(t, certFile, keyFile, 1001)
	cfg := writeFile(t, "bridge.yaml", upstreamsYAML([]string{sim.URL}))
	addr := testproc.FreeAddr(t)
	b := testproc.StartArgs(t, addr, "serve", "--listen", addr, "--config", cfg, "--tls-cert", certFile, "--tls-key", keyFile)
	pool := x509.NewCertPool()
	pemBytes, _ := os.ReadFile(certFile)
	pool.AppendCertsFromPEM(pemBytes)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	testproc.Eventually(t, 15*time.Second, "HTTPS /ready", func() bool {
		resp, err := client.Get("https://" + addr + "/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	_ = b

	// TLS 1.1 (and below): no handshake.
	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, MaxVersion: v})
		if err == nil {
			c.Close()
			t.Errorf("a client capped at %s completed a handshake", tls.VersionName(v))
		} else if !strings.Contains(err.Error(), "protocol version") {
			t.Errorf("%s refused for another reason than its version: %v", tls.VersionName(v), err)
		}
	}
	// TLS 1.2 with a non-AEAD (CBC) suite only: refused.
	if c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}}); err == nil {
		c.Close()
		t.Error("TLS 1.2 with a CBC suite completed a handshake")
	}
	// TLS 1.2 works, with an AEAD suite.
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("TLS 1.2: %v", err)
	}
	st := c.ConnectionState()
	c.Close()
	if st.Version != tls.VersionTLS12 || !strings.Contains(tls.CipherSuiteName(st.CipherSuite), "GCM") && !strings.Contains(tls.CipherSuiteName(st.CipherSuite), "CHACHA20") {
		t.Errorf("TLS 1.2 session: %s %s", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
	}

	resp, err := client.Post("https://"+addr+"/api/chat", "application/json", strings.NewReader(guardChat(false, 3)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"done":true`) {
		t.Errorf("chat over HTTPS: %d %s", resp.StatusCode, body)
	}
	if h := resp.Header.Get("Strict-Transport-Security"); h != "max-age=63072000" {
		t.Errorf("Strict-Transport-Security %q; want max-age=63072000", h)
	}

	if got := servedSerial(t, addr); got != 1001 {
		t.Fatalf("serial %d; want 1001", got)
	}
	// Renew: a new certificate in the same files. mtimes must differ
	// from the first write, which a coarse file system clock could hide.
	time.Sleep(1100 * time.Millisecond)
	writeCert(t, certFile, keyFile, 2002)
	testproc.Eventually(t, 10*time.Second, "the renewed certificate served", func() bool {
		return servedSerial(t, addr) == 2002
	})
	if strings.Contains(b.Output(), `"log.level":"error"`) {
		t.Errorf("errors logged:\n%s", b.Output())
	}
}

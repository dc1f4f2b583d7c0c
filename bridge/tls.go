package bridge

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"
)

// serverTLS is Mozilla's "intermediate" profile (ssl-config.mozilla.org,
// v5.7): TLS 1.2 and 1.3; for 1.2 only ECDHE key exchange with AEAD
// ciphers (1.3's suites are all AEAD and not configurable in Go). HTTP/1.1
// only: the bridge's streaming and body deadlines are built for it.
func serverTLS(certs *certReloader) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256, tls.CurveP384},
		NextProtos:       []string{"http/1.1"},
		GetCertificate:   certs.get,
	}
}

// hstsValue is the Strict-Transport-Security header for max-age.
func hstsValue(maxAge time.Duration) string {
	return "max-age=" + strconv.FormatInt(int64(maxAge.Seconds()), 10)
}

// certReloader serves the certificate in certFile/keyFile and loads it
// again when either file's modification time changes (checked at most once
// a second, on a handshake), so a renewed certificate (certbot, cert-manager)
// is served without a restart. A pair that does not load — say, the
// certificate written but not yet its key — keeps the old one until the
// next check.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger
	clock             func() time.Time

	mu        sync.Mutex
	cert      *tls.Certificate
	certMod   time.Time
	keyMod    time.Time
	lastCheck time.Time
}

func newCertReloader(certFile, keyFile string, log *slog.Logger, clock func() time.Time) (*certReloader, error) {
	c := &certReloader{certFile: certFile, keyFile: keyFile, log: log, clock: clock}
	if err := c.load(); err != nil {
		return nil, err
	}
	c.lastCheck = clock()
	return c, nil
}

func (c *certReloader) load() error {
	cm, km, err := c.mtimes()
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	c.cert, c.certMod, c.keyMod = &cert, cm, km
	return nil
}

func (c *certReloader) mtimes() (time.Time, time.Time, error) {
	ci, err := os.Stat(c.certFile)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	ki, err := os.Stat(c.keyFile)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	return ci.ModTime(), ki.ModTime(), nil
}

func (c *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := c.clock(); now.Sub(c.lastCheck) >= time.Second {
		c.lastCheck = now
		cm, km, err := c.mtimes()
		if err == nil && (!cm.Equal(c.certMod) || !km.Equal(c.keyMod)) {
			if err := c.load(); err != nil {
				c.log.Warn("tls: new certificate not loaded, serving the old one", "error.message", err.Error())
			} else {
				c.log.Info("tls: certificate reloaded", "file.path", c.certFile)
			}
		}
	}
	return c.cert, nil
}

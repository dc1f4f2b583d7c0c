package bridge

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/oklog/run"
)

// Run serves cfg until ctx ends (SIGTERM/SIGINT), then drains: /ready turns
// 503 at once, new requests are still served for server.drain_delay, the
// listener closes and in-flight requests (streams included) get
// server.grace to finish before their connections are cut. A value on
// reloads (SIGHUP) re-reads the configuration. ready, when non-nil, is
// closed once the listener is up.
func Run(ctx context.Context, cfg Config, o Options, reloads <-chan os.Signal, ready chan<- net.Addr) error {
	logger := o.Logger
	if logger == nil {
		logger = slog.Default()
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	h := NewHandler(cfg, o)
	healthCtx, stopHealth := context.WithCancel(context.Background())
	defer stopHealth()
	if err := h.StartGuard(healthCtx, cfg); err != nil {
		ln.Close()
		return err
	}
	var tlsConf *tls.Config
	if cfg.TLS.Cert != "" {
		certs, err := newCertReloader(cfg.TLS.Cert, cfg.TLS.Key, logger, h.clock)
		if err != nil {
			ln.Close()
			return err
		}
		tlsConf = serverTLS(certs)
		h.hsts = hstsValue(cfg.TLS.HSTSMaxAge)
		ln = tls.NewListener(ln, tlsConf)
	}
	h.Start(healthCtx)

	std := &http.Server{
		Handler: h,
		// Slowloris: a client must send its headers within this time. The
		// body has its own bound (server.read_body_timeout, set per request
		// in readBody); no WriteTimeout, since streams may run for minutes.
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
		IdleTimeout:       cfg.Server.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
		TLSConfig:         tlsConf,
	}
	if tlsConf != nil {
		// HTTP/1.1 only over TLS (serverTLS); a non-nil empty map keeps
		// net/http from adding HTTP/2.
		std.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	}
	var srv httpServer = std
	if cfg.Server.Engine != "net/http" {
		srv = newFastServer(h, std, cfg.Server, logger)
	}

	var g run.Group
	// HTTP server.
	{
		g.Add(func() error {
			logger.Info("serving", "listen", ln.Addr().String(), "upstreams", len(cfg.Upstreams), "policy", cfg.Policy,
				"tls", tlsConf != nil)
			if ready != nil {
				ready <- ln.Addr()
			}
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		}, func(error) {
			// Not ready at once, so load balancers stop sending; then
			// stop accepting and let in-flight requests finish.
			h.SetDraining()
			if d := cfg.Server.DrainDelay; d > 0 {
				time.Sleep(d)
			}
			sctx, cancel := context.WithTimeout(context.Background(), cfg.Server.Grace)
			defer cancel()
			if err := srv.Shutdown(sctx); err != nil {
				logger.Warn("grace period over, cutting remaining connections", "error.message", err.Error())
				_ = srv.Close()
			}
		})
	}
	// Termination handler.
	{
		cancel := make(chan struct{})
		g.Add(func() error {
			select {
			case <-ctx.Done():
				logger.Info("shutting down: draining")
			case <-cancel:
			}
			return nil
		}, func(error) { close(cancel) })
	}
	// Reload handler (SIGHUP).
	{
		cancel := make(chan struct{})
		g.Add(func() error {
			for {
				select {
				case <-reloads:
					_ = h.Reload() // logged and counted; the old config keeps serving
				case <-cancel:
					return nil
				}
			}
		}, func(error) { close(cancel) })
	}
	err = g.Run()
	stopHealth()
	h.Stop()
	h.Close()
	logger.Info("stopped")
	return err
}

// httpServer is what Run needs of a server: http.Server, or the fast
// server in front of one.
type httpServer interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
	Close() error
}

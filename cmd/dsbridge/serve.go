package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/dsbridge/dsbridge/bridge"
)

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, " ") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// runServe runs the HA gateway. The YAML file (--config) holds everything;
// flags override it, and are applied again on every reload (SIGHUP or POST
// /admin/reload), which re-reads the file.
func runServe(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var upstreams stringList
	listen := fs.String("listen", "", "address to listen on (default 127.0.0.1:11434, or the config's listen)")
	fs.Var(&upstreams, "upstream", "Ollama instance URL[,weight=N][,backup][,max_in_flight=N]; repeatable; replaces the config's list")
	upstreamsDNS := fs.String("upstreams-dns", "", "also take upstreams from DNS: NAME[,type=A|SRV][,port=N][,server=HOST:PORT][,interval=D] (see README, \"DNS discovery\")")
	instance := fs.String("instance-id", "", "this bridge's id in logs and metrics (default: host name)")
	configPath := fs.String("config", "", "YAML configuration file")
	policy := fs.String("policy", "", "selection policy: model-aware, round_robin or least_outstanding")
	adminToken := fs.String("admin-token", "", "enables management calls and guards the admin API")
	logLevel := fs.String("log-level", "", "debug, info, warn or error")
	pprof := fs.Bool("pprof", false, "serve net/http/pprof under /debug/pprof/")
	cache := fs.String("cache", "", "answer deterministic requests from a cache: memory, or redis://HOST:PORT (in-process in front of a shared Redis); sets cache.backend")
	engine := fs.String("server-engine", "", "HTTP/1.1 server: fast (default; the bridge's own loop, net/http for unusual requests) or net/http")
	logES := fs.String("log-elasticsearch", "", "also ship log lines to this Elasticsearch URL (daily dsbridge-logs-YYYY.MM.DD indices)")
	var guard guardFlags
	guard.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: dsbridge serve --listen ADDR --upstream URL [--upstream URL …] [--instance-id ID] [--config FILE]\n"+
			"       [--jwt-key FILE|URL --jwt-audience AUD --jwt-issuer ISS] [--api-key-file FILE] [--allow-cidr CIDR …]\n"+
			"       [--trusted-proxy CIDR …] [--rate-limit N/min] [--rate-burst N] [--tls-cert FILE --tls-key FILE]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "serve: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	load := func() (bridge.Config, error) {
		cfg, err := bridge.LoadConfig(*configPath)
		if err != nil {
			return cfg, err
		}
		if *listen != "" {
			cfg.Listen = *listen
		}
		if len(upstreams) > 0 {
			cfg.Upstreams = nil
			for _, s := range upstreams {
				u, err := bridge.ParseUpstreamFlag(s)
				if err != nil {
					return cfg, err
				}
				cfg.Upstreams = append(cfg.Upstreams, u)
			}
		}
		if *upstreamsDNS != "" {
			d, err := bridge.ParseDNSFlag(*upstreamsDNS, cfg.UpstreamsDNS)
			if err != nil {
				return cfg, err
			}
			cfg.UpstreamsDNS = d
		}
		if *instance != "" {
			cfg.InstanceID = *instance
		}
		if cfg.InstanceID == "" {
			cfg.InstanceID, _ = os.Hostname()
		}
		if *policy != "" {
			cfg.Policy = *policy
		}
		if *adminToken != "" {
			cfg.AdminToken = *adminToken
		}
		if *pprof {
			cfg.Pprof = true
		}
		if *logLevel != "" {
			cfg.Log.Level = *logLevel
		}
		if *logES != "" {
			cfg.Log.Elasticsearch.URL = *logES
		}
		if *cache != "" {
			cfg.Cache.Backend = *cache
		}
		if *engine != "" {
			cfg.Server.Engine = *engine
		}
		if err := guard.apply(&cfg); err != nil {
			return cfg, err
		}
		return cfg, cfg.Validate()
	}
	cfg, err := load()
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	var logOut io.Writer = stderr
	var sink *bridge.LogSink
	if cfg.Log.Elasticsearch.URL != "" {
		if sink, err = bridge.NewLogSink(cfg.Log.Elasticsearch); err != nil {
			return &exitError{code: 2, err: err}
		}
		logOut = io.MultiWriter(stderr, sink)
	}
	logger, err := bridge.NewLogger(logOut, cfg.Log.Level, cfg.InstanceID)
	if err != nil {
		return err
	}
	if sink != nil {
		defer func() {
			// Send what is buffered, within a bound: a stuck
			// Elasticsearch must not hold the shutdown.
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := sink.Close(sctx); err != nil {
				fmt.Fprintf(stderr, "log sink: lines still buffered at shutdown were dropped: %v\n", err)
			}
		}()
		logger.Info("log sink on", "elasticsearch", cfg.Log.Elasticsearch.URL)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	// The bridge's heap is small and short-lived (pooled request buffers,
	// per-request headers): collect it less often, with a soft memory limit
	// so a burst of large bodies still triggers collection early. GOGC or
	// GOMEMLIMIT in the environment win.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(1 << 30)
	}
	o := bridge.Options{Version: version, Logger: logger, Reload: load, LogSink: sink}
	tp, err := newTracerProvider(ctx, cfg.InstanceID)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if tp != nil {
		o.TracerProvider = tp
		defer func() {
			// Export what is buffered, within a bound: an unreachable
			// collector must not hold the shutdown.
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := tp.Shutdown(sctx); err != nil {
				logger.Warn("trace export at shutdown", "error.message", err.Error())
			}
		}()
		logger.Info("tracing on", "exporter", "otlp")
	}
	return bridge.Run(ctx, cfg, o, hup, nil)
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/dsbridge/dsbridge/ollamasim"
)

const simUsage = `Usage: dsbridge sim --listen ADDR [flags]

Run an Ollama v0.17.4-compatible simulator: Ollama's API (/, /api/*, /v1/*),
its scheduler (NUM_PARALLEL slots, MAX_QUEUE pending while a model loads,
keep_alive, max loaded models), modelled timings, and injectable faults
(POST/GET/DELETE /sim/faults). Prometheus metrics on /metrics.
It is ready when GET / answers 200. SIGTERM drains and exits.

Timing flags override the profile's default for every model; a profile file
can set them per model (see README, "Simulator").

Flags:
`

// runSim runs `dsbridge sim`.
func runSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, simUsage)
		fs.PrintDefaults()
	}
	var (
		listen    = fs.String("listen", "127.0.0.1:11434", "address to listen on (host:port)")
		models    = fs.String("models", strings.Join(ollamasim.DefaultModels(), ","), "comma-separated models to serve, in /api/tags order (the first is the default model)")
		parallel  = fs.Int("parallel", 1, "OLLAMA_NUM_PARALLEL: concurrent requests per model")
		maxQueue  = fs.Int("max-queue", 512, "OLLAMA_MAX_QUEUE: pending requests while a model is being loaded, beyond which requests get 503")
		strict    = fs.Bool("strict-queue", false, "also bound requests waiting for a slot of a loaded model by --max-queue (a fixed Ollama; real v0.17.4 does not, ollama#7758)")
		maxLoaded = fs.Int("max-loaded-models", 3, "OLLAMA_MAX_LOADED_MODELS: idle models are evicted to load another")
		keepAlive = fs.String("keep-alive", "5m", "OLLAMA_KEEP_ALIVE: how long an idle model stays loaded (duration or seconds; negative = forever, 0 = unload at once)")
		seed      = fs.Uint64("seed", 0, "seed for generated text, embeddings and fault dice (same seed + same request = same answer)")
		profile   = fs.String("profile", "default", "timing profile: default (a 7B model on one GPU), instant (no modelled delay), tiny-cpu (real Ollama serving `dsbridge tinymodel`'s model on a 2-core CPU), or a YAML file")
		origins   = fs.String("origins", "", "OLLAMA_ORIGINS: comma-separated browser origins allowed beyond Ollama's defaults (localhost, 127.0.0.1, 0.0.0.0, app schemes); * wildcards")
		loadTime  = fs.String("load-time", "", "cold model load time (overrides the profile)")
		ttft      = fs.String("ttft", "", "fixed time to first token on top of prefill (overrides the profile)")
		prefill   = fs.String("prefill-per-token", "", "prompt evaluation time per prompt token (overrides the profile)")
		tps       = fs.String("tokens-per-second", "", "decode speed of one stream alone, tokens/s (0 = instant; overrides the profile)")
		slowdown  = fs.String("batch-slowdown", "", "each extra concurrent stream on a model slows every stream by this fraction (overrides the profile)")
		prefSlow  = fs.String("prefill-slowdown", "", "each other busy stream on a model lengthens a new request's prefill by this fraction (overrides the profile)")
		ctxLen    = fs.Int("context-length", 0, "context length (num_ctx default; overrides the profile)")
		drain     = fs.Duration("shutdown-timeout", 10*time.Second, "on SIGTERM, how long to let in-flight requests finish")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "dsbridge sim: unexpected arguments %q\n", fs.Args())
		return errUsage
	}
	profs, err := ollamasim.LoadProfiles(*profile)
	if err != nil {
		return err
	}
	override := func(p *ollamasim.Profile) error {
		for _, o := range []struct {
			v   string
			dst *ollamasim.Duration
			n   string
		}{{*loadTime, &p.LoadTime, "load-time"}, {*ttft, &p.TTFT, "ttft"}, {*prefill, &p.PrefillPerToken, "prefill-per-token"}} {
			if o.v == "" {
				continue
			}
			if err := o.dst.UnmarshalJSON([]byte(o.v)); err != nil {
				return fmt.Errorf("--%s: %w", o.n, err)
			}
		}
		for _, o := range []struct {
			v   string
			dst *float64
			n   string
		}{{*tps, &p.TokensPerSecond, "tokens-per-second"}, {*slowdown, &p.BatchSlowdown, "batch-slowdown"}, {*prefSlow, &p.PrefillSlowdown, "prefill-slowdown"}} {
			if o.v == "" {
				continue
			}
			f, err := strconv.ParseFloat(o.v, 64)
			if err != nil || f < 0 {
				return fmt.Errorf("--%s: want a number ≥ 0, got %q", o.n, o.v)
			}
			*o.dst = f
		}
		if *ctxLen > 0 {
			p.ContextLength = *ctxLen
		}
		return nil
	}
	if err := override(&profs.Default); err != nil {
		return err
	}
	for name, p := range profs.Models {
		if err := override(&p); err != nil {
			return err
		}
		profs.Models[name] = p
	}
	var ka ollamasim.Duration
	if err := ka.UnmarshalJSON([]byte(*keepAlive)); err != nil {
		return fmt.Errorf("--keep-alive: %w", err)
	}
	kad := ka.D()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	sim, err := ollamasim.New(ollamasim.Config{
		Models:          strings.Split(*models, ","),
		Parallel:        *parallel,
		MaxQueue:        *maxQueue,
		StrictQueue:     *strict,
		MaxLoadedModels: *maxLoaded,
		KeepAlive:       &kad,
		Seed:            *seed,
		Profiles:        profs,
		Origins:         splitList(*origins),
	}, reg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "dsbridge sim: Ollama %s simulator listening on http://%s (models %s, parallel %d, max-queue %d, profile %s)\n",
		ollamasim.Version, ln.Addr(), *models, *parallel, *maxQueue, *profile)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Graceful: stop accepting, let in-flight streams finish for a while.
	sctx, cancel := context.WithTimeout(context.Background(), *drain)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	fmt.Fprintln(stdout, "dsbridge sim: stopped")
	return nil
}

// splitList splits a comma-separated flag, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

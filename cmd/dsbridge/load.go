package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/dsbridge/dsbridge/loadgen"
)

const loadUsage = `Usage: dsbridge load --target BASE_URL --rate N --duration D [--out FILE] [flags]

Drives LLM load at an Ollama-compatible server (or a bridge in front of
some) and reports throughput, latency, time to first token, inter-token
latency and errors. By default the load is an open model: arrival times are
fixed in advance by the pacer and requests are sent on time whatever the
responses do, and every latency is measured from the time a request was due
(no coordinated omission). --users N switches to a closed model (N users
that each wait for their answer), for comparison only.

The default mix is streamed /api/chat against the first model GET /api/tags
lists; --mix FILE gives endpoints, models, streaming and length
distributions (see README "Load generator"). Targets must be on loopback
(unless --allow-non-loopback). --shard i/N splits one run over N generators
(see README "Sharded load").

Flags:
`

// runLoad is `dsbridge load`: loadgen.Run behind flags, a progress line per
// second on stderr, the summary on stdout and results JSON in --out.
func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		target      = fs.String("target", "", "server root URL, e.g. http://127.0.0.1:11434 (required; loopback only)")
		rate        = fs.Float64("rate", 0, "open model: requests per second (required unless --stages or --users)")
		duration    = fs.Duration("duration", 10*time.Second, "how long to send (with --stages: defaults to their total)")
		out         = fs.String("out", "", "write results JSON (schema dsbridge.results/v1) to this file; - writes it on stdout instead of the summary (a Kubernetes Job's log)")
		mixFile     = fs.String("mix", "", "request mix YAML file (default: streamed /api/chat)")
		model       = fs.String("model", "", "model for mix entries that name none (default: the first of GET /api/tags)")
		arrival     = fs.String("arrival", "constant", "open-model arrivals: constant (evenly spaced) or poisson (exponential gaps)")
		stages      = fs.String("stages", "", "ramping open model: DURATION:RATE legs, e.g. 30s:100,60s:500 (the rate ramps linearly to each leg's RATE)")
		startRate   = fs.Float64("start-rate", 0, "with --stages: the rate at t=0")
		users       = fs.Int("users", 0, "closed model: this many concurrent users instead of a rate (hides stalls; for comparison)")
		think       = fs.Duration("think", 0, "closed model: pause between a user's requests")
		timeout     = fs.Duration("timeout", loadgen.DefaultTimeout, "per-request time-out, stream included")
		maxInFlight = fs.Int("max-in-flight", loadgen.DefaultMaxInFlight, "bound on concurrent requests; at the bound sends wait and count as late")
		lateAfter   = fs.Duration("late-after", loadgen.DefaultLateAfter, "a send later than this after its due time counts as late")
		grace       = fs.Duration("grace", loadgen.DefaultGrace, "after --duration, arrivals still unsent this long are dropped (and counted)")
		seed        = fs.Uint64("seed", 1, "seed for the mix and Poisson arrivals: same seed, same requests")
		scenario    = fs.String("scenario", "load", "scenario name written into the results")
		promptTok   = fs.Int("prompt-tokens", loadgen.DefaultPromptTokens, "default mix: prompt length in words (≈ tokens)")
		maxTok      = fs.Int("max-tokens", loadgen.DefaultMaxTokens, "default mix: output tokens asked for (num_predict)")
		progress    = fs.Duration("progress", time.Second, "print a progress line on stderr this often (0: never)")
		shard       = fs.String("shard", "", "i/N: be shard i (0-based) of N generators, taking every N-th arrival of the run and its request, so N machines together send --rate; merge their --out files with 'dsbridge report merge'")
		allowRemote = fs.Bool("allow-non-loopback", false, "allow a target off 127.0.0.0/8 and ::1: only for a load test of your own deployment, e.g. the Kubernetes load Job")
	)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), loadUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	bad := func(format string, a ...any) error {
		fmt.Fprintf(stderr, "dsbridge load: "+format+"\n\n", a...)
		fs.Usage()
		return errUsage
	}
	if fs.NArg() > 0 {
		return bad("unexpected arguments %q", fs.Args())
	}
	if *target == "" {
		return bad("--target is required")
	}
	durationSet := false
	fs.Visit(func(f *flag.Flag) { durationSet = durationSet || f.Name == "duration" })

	cfg := loadgen.Config{
		Target: *target, Model: *model, Duration: *duration, Timeout: *timeout,
		MaxInFlight: *maxInFlight, LateAfter: *lateAfter, Grace: *grace, Seed: *seed, Scenario: *scenario,
		ThinkTime: *think, ProgressEvery: *progress, AllowNonLoopback: *allowRemote,
	}
	if *shard != "" {
		sh, err := loadgen.ParseShard(*shard)
		if err != nil {
			return bad("--shard: %v", err)
		}
		cfg.Shard = sh
	}
	switch {
	case *users > 0:
		if *rate > 0 || *stages != "" {
			return bad("--users (closed model) excludes --rate and --stages")
		}
		cfg.Users = *users
	case *stages != "":
		st, err := loadgen.ParseStages(*stages)
		if err != nil {
			return bad("--stages: %v", err)
		}
		p := loadgen.StagePacer{Start: *startRate, Stages: st}
		cfg.Pacer = p
		if !durationSet {
			cfg.Duration = p.Total()
		}
	case *rate > 0:
		switch *arrival {
		case "constant":
			cfg.Pacer = loadgen.ConstantPacer(*rate)
		case "poisson":
			cfg.Pacer = loadgen.PoissonPacer{Mean: *rate, Seed: *seed}
		default:
			return bad("--arrival %q: want constant or poisson", *arrival)
		}
	default:
		return bad("give --rate N (open model), --stages, or --users N (closed model)")
	}
	if *mixFile != "" {
		b, err := os.ReadFile(*mixFile)
		if err != nil {
			return err
		}
		m, err := loadgen.ParseMix(b)
		if err != nil {
			return err
		}
		cfg.Mix = m
	} else {
		if *promptTok < 1 || *maxTok < 1 {
			return bad("--prompt-tokens and --max-tokens must be at least 1")
		}
		cfg.Mix = loadgen.DefaultMix(*model, *promptTok, *maxTok)
	}
	if *progress > 0 {
		cfg.Progress = func(p loadgen.Progress) {
			fmt.Fprintf(stderr, "[%5.1fs/%s] sent %d  done %d  failed %d  in flight %d  rate %.1f/s  p99 %s\n",
				p.Elapsed.Seconds(), p.Total, p.Sent, p.Completed, p.Failed, p.InFlight, p.Rate, p.P99.Round(10*time.Microsecond))
		}
	}

	// The generator's heap is small and short-lived (requests, stream
	// buffers); collecting it less often leaves more CPU for keeping the
	// schedule. GOGC in the environment still wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	rs, runErr := loadgen.Run(ctx, cfg)
	if rs == nil {
		return runErr
	}
	if *out == "-" {
		if err := rs.WriteJSON(stdout); err != nil {
			return err
		}
	} else if err := loadgen.NewTextReporter(rs)(stdout); err != nil {
		return err
	}
	if *out != "" && *out != "-" {
		if err := writeResults(*out, rs); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nResults: %s\n", *out)
	}
	if runErr != nil {
		return fmt.Errorf("interrupted: partial results: %w", runErr)
	}
	return nil
}

// writeResults writes the JSON next to its final name and renames it, so a
// reader never sees half a file.
func writeResults(path string, rs *loadgen.Results) error {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := rs.WriteJSON(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

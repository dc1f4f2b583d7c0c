package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// config is the command line, parsed.
type config struct {
	targets         []string
	upstreamKind    string // "stdlib" or "sim"
	upstreamCount   int
	upstreamCC      string // the stdlib upstreams' TCP congestion control; "" is the default
	duration        time.Duration
	warmup          time.Duration
	repeat          int
	connections     int
	threads         int
	chatTokens      int
	streamTokens    []int
	dsbridge        string
	baseDsbridge    string
	bridgeConfig    string
	bridgeArgs      []string
	bridgeEnv       []string
	nginxPath       string
	haproxyPath     string
	wrkPath         string
	wrkCPUs         string
	serverCPUs      string
	out             string
	profile         bool
	profileSeconds  int
	pprofPath       string
	streamTolerance float64
	failOnVerdict   bool
	keep            bool
	maxTime         time.Duration
	render          string // re-render this results.json instead of running
}

const usageText = `Usage: go run ./bench/proxybench [flags]

Issue 3's side-by-side proxy benchmark. In one run, on the same upstreams, wrk
drives direct access, nginx, a plain httputil.ReverseProxy (reference point)
and the bridge with non-streamed /api/chat and streamed /api/chat of N tokens,
and the program writes OUT/report.md and OUT/results.json: requests/s, P50/P99
latency, proxy CPU per 1000 requests, relay MB/s, errors, ratios bridge/nginx
and bridge/direct, and a verdict against the 0.75x-nginx target.

Needs wrk and nginx (Debian: apt-get install wrk nginx-light). Every process
runs on 127.0.0.1 and stops by itself; the run is bounded by --max-time.

Flags:
`

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("proxybench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.PrintDefaults()
	}
	targets := fs.String("targets", strings.Join(allTargets(), ","), "targets to compare, comma-separated, in table order; haproxy may be added")
	fs.StringVar(&cfg.upstreamKind, "upstreams", "stdlib", "upstream kind: stdlib (tiny net/http servers in this program) or sim (dsbridge sim --profile instant)")
	fs.IntVar(&cfg.upstreamCount, "upstream-count", 3, "number of upstreams")
	fs.StringVar(&cfg.upstreamCC, "upstream-cc", "", "TCP congestion control of the stdlib upstreams' connections, e.g. cubic (Linux; empty: the machine's default). It decides how the upstreams' token writes coalesce into segments, see the README")
	fs.DurationVar(&cfg.duration, "duration", 5*time.Second, "measured wrk run per cell (whole seconds)")
	fs.DurationVar(&cfg.warmup, "warmup", time.Second, "unmeasured wrk run before each cell (whole seconds; 0 for none)")
	fs.IntVar(&cfg.repeat, "repeat", 5, "times each cell is measured; the table shows the median and the spread (more, shorter cells: one slow spell of a shared machine moves the median less)")
	fs.IntVar(&cfg.connections, "connections", 64, "wrk connections")
	fs.IntVar(&cfg.threads, "threads", 2, "wrk threads")
	fs.IntVar(&cfg.chatTokens, "chat-tokens", 32, "options.num_predict of the non-streamed request")
	streams := fs.String("stream-tokens", "32,512", "streamed cases: tokens per stream, comma-separated (empty for none)")
	fs.StringVar(&cfg.dsbridge, "dsbridge", "", "dsbridge binary for the bridge (and --upstreams sim); default: go build ./cmd/dsbridge from this checkout into the run's temp dir")
	fs.StringVar(&cfg.baseDsbridge, "base-dsbridge", "", "another dsbridge build, run as target bridge-base with the same flags: a change measured against its base in one run")
	fs.StringVar(&cfg.bridgeConfig, "bridge-config", "", "config file passed to dsbridge serve --config")
	var bargs stringList
	fs.Var(&bargs, "bridge-arg", "extra argument for dsbridge serve (repeatable), e.g. --bridge-arg=--pprof")
	var benv stringList
	fs.Var(&benv, "bridge-env", "KEY=VALUE in the bridge's environment (repeatable), e.g. --bridge-env GOGC=400")
	fs.StringVar(&cfg.nginxPath, "nginx", "nginx", "nginx binary")
	fs.StringVar(&cfg.haproxyPath, "haproxy", "haproxy", "haproxy binary (for --targets …,haproxy)")
	fs.StringVar(&cfg.wrkPath, "wrk", "wrk", "wrk binary")
	fs.StringVar(&cfg.wrkCPUs, "wrk-cpus", "", "taskset CPU list for wrk (empty: no pinning)")
	fs.StringVar(&cfg.serverCPUs, "server-cpus", "", "taskset CPU list for the proxies and upstreams (empty: no pinning)")
	fs.StringVar(&cfg.out, "out", "out/proxybench", "directory for report.md, results.json and profiles")
	fs.BoolVar(&cfg.profile, "profile", false, "after the table, run one more bridge cell per case while capturing a CPU and an allocation profile (pprof endpoint, or perf when the bridge has none)")
	fs.IntVar(&cfg.profileSeconds, "profile-seconds", 10, "length of the profile capture")
	fs.StringVar(&cfg.pprofPath, "pprof-path", "/debug/pprof", "where the bridge serves net/http/pprof (enable it with --bridge-arg if the bridge needs a flag)")
	fs.Float64Var(&cfg.streamTolerance, "stream-tolerance", 0.05, "streamed relay 'reaches nginx's rate' when bridge/nginx >= 1 - this (run-to-run noise)")
	fs.BoolVar(&cfg.failOnVerdict, "fail-on-verdict", false, "exit 3 when the verdict is 'not done'")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the run's temp dir (configs, process logs)")
	fs.StringVar(&cfg.render, "render", "", "do not run: recompute summaries and verdict of an earlier results.json and write report.md and results.json to --out")
	fs.DurationVar(&cfg.maxTime, "max-time", 0, "hard bound on the whole run (default: the planned time x1.5 + 2 min)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "proxybench: unexpected arguments %q\n", fs.Args())
		return cfg, errUsage
	}
	cfg.bridgeArgs = bargs
	cfg.bridgeEnv = benv
	for _, t := range strings.Split(*targets, ",") {
		if t = strings.TrimSpace(t); t != "" {
			cfg.targets = append(cfg.targets, t)
		}
	}
	for _, s := range strings.Split(*streams, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			fmt.Fprintf(stderr, "proxybench: bad --stream-tokens %q\n", s)
			return cfg, errUsage
		}
		cfg.streamTokens = append(cfg.streamTokens, n)
	}
	switch {
	case len(cfg.targets) == 0:
		fmt.Fprintln(stderr, "proxybench: no --targets")
		return cfg, errUsage
	case cfg.upstreamCC != "" && cfg.upstreamKind != "stdlib":
		fmt.Fprintln(stderr, "proxybench: --upstream-cc needs --upstreams stdlib")
		return cfg, errUsage
	case cfg.duration < time.Second || cfg.repeat < 1 || cfg.connections < 1 || cfg.threads < 1 || cfg.threads > cfg.connections:
		fmt.Fprintln(stderr, "proxybench: need --duration >= 1s, --repeat >= 1, 1 <= --threads <= --connections")
		return cfg, errUsage
	}
	return cfg, nil
}

// errUsage marks a command-line mistake, already explained on stderr.
var errUsage = errors.New("usage")

// cases is the benchmark's cases: non-streamed chat, then each stream length.
func (c config) cases() []benchCase {
	cs := []benchCase{{Name: "chat", Stream: false, Tokens: c.chatTokens}}
	for _, n := range c.streamTokens {
		cs = append(cs, benchCase{Name: fmt.Sprintf("stream%d", n), Stream: true, Tokens: n})
	}
	return cs
}

// planned is how long the measured part should take.
func (c config) planned() time.Duration {
	perCell := c.duration.Round(time.Second) + c.warmup.Round(time.Second) + time.Second
	d := time.Duration(c.repeat*len(c.cases())*len(c.targets)) * perCell
	if c.profile { // a profiled cell per case, each with a warm-up, and a bridge start
		d += time.Duration(len(c.cases())*(c.profileSeconds+5)+5) * time.Second
	}
	return d
}

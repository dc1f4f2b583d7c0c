package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dsbridge/dsbridge/bench"
	"github.com/dsbridge/dsbridge/chaos"
	"github.com/dsbridge/dsbridge/scenarios"
)

const benchUsage = `Usage: dsbridge bench [--scenario NAME|FILE] [--out DIR] [flags]

Runs a scenario: starts its cluster as local processes on loopback (sims,
bridges, an optional nginx and Toxiproxy) or, with --runtime docker, as
containers on a private Docker network (images built by "dsbridge images"
when missing; real Ollama containers with topology.ollamas), waits until
they are ready, drives
the load and the chaos timeline together, scrapes every /metrics, stops all it
started (also on Ctrl-C), checks the gates and writes DIR/results.json,
DIR/report.md and DIR/report.html (self-contained). Process logs go to
DIR/logs.

The report shows, for each gate, the PromQL an operator would watch it with.
With --prometheus (or the scenario's observability: {prometheus: true}) a
real Prometheus (Debian's prometheus package, on loopback) scrapes every
bridge and sim each second with dsbridge's recording and alert rules, the
runner evaluates each gate's PromQL against it at the end and records the
value next to the load generator's, and the alerts firing then. Its config
and TSDB stay in DIR/prometheus, its output in DIR/logs/prometheus.log.

Exit status: 0 every gate passed, 1 a gate failed (the report says which and
by how much), 2 the run itself broke.

Scenarios shipped in the binary: %s
(a path to a YAML file works too; --schema prints the format's JSON Schema).
Chaos actions: %s.
Gate metrics: %s.

Flags:
`

// runBench is `dsbridge bench`: bench.Run behind flags.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		scenario = fs.String("scenario", "smoke", "scenario name (see above) or path to a scenario YAML file")
		out      = fs.String("out", "out/bench", "directory for results.json, report.md, report.html and logs/")
		seed     = fs.Int64("seed", 0, "override the scenario's seed (arrivals, mix, random-* chaos targets, sims)")
		bin      = fs.String("bin", "", "dsbridge binary to run the sims and bridges with (default: this one)")
		runtime  = fs.String("runtime", "", "where the cluster runs: local (processes on loopback) or docker (containers from dsbridge images; default: the scenario's topology.runtime, else local)")
		nginx    = fs.String("nginx", "", "nginx binary for scenarios with lb: nginx (default: from $PATH or /usr/sbin)")
		quiet    = fs.Bool("quiet", false, "no progress lines")
		prom     = fs.Bool("prometheus", false, "run a real Prometheus (Debian's prometheus, on $PATH) scraping the cluster and check each gate's PromQL against it")
		every    = fs.Duration("progress", 2*time.Second, "progress line interval")
		list     = fs.Bool("list", false, "list the shipped scenarios with their descriptions and exit")
		schema   = fs.Bool("schema", false, "print the scenario format's JSON Schema and exit")
	)
	fs.Usage = func() {
		fmt.Fprintf(stderr, benchUsage, strings.Join(scenarios.Names(), ", "), strings.Join(chaos.Actions(), ", "), strings.Join(bench.Metrics(), ", "))
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "dsbridge bench: unexpected arguments %q\n", fs.Args())
		return errUsage
	}
	if *schema {
		_, err := stdout.Write(scenarios.Schema())
		return err
	}
	if *list {
		for _, n := range scenarios.Names() {
			s, err := scenarios.Load(n)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			fmt.Fprintf(stdout, "%-18s %4.0fs  %s\n", n, s.Duration().Seconds(), firstSentence(s.Description))
		}
		return nil
	}
	sc, err := scenarios.Load(*scenario)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if *seed != 0 {
		sc.Seed = *seed
	}
	binary := *bin
	if binary == "" {
		if binary, err = os.Executable(); err != nil {
			return &exitError{code: 2, err: fmt.Errorf("find own binary: %w", err)}
		}
	}
	var progress io.Writer
	if !*quiet {
		progress = stderr
	}
	fmt.Fprintf(stderr, "dsbridge bench: scenario %s (%v), %d sim(s), %d bridge(s); writing %s\n",
		sc.Name, sc.Duration(), sc.Topology.Sims.Count, sc.Topology.Bridges.Count, *out)
	start := time.Now()
	res, err := bench.Run(ctx, bench.Options{Scenario: sc, OutDir: *out, Binary: binary, Nginx: *nginx,
		Progress: progress, ProgressEvery: *every, Prometheus: *prom, Runtime: *runtime})
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	fmt.Fprintf(stdout, "%s: %d requests, %d failed (%.3f%%), p99 %.1f ms, ttft p99 %.1f ms, in %.1fs; reports in %s\n",
		res.Scenario, res.Requests.Total, res.Requests.Failed, 100*res.Requests.ErrorRate, res.LatencyMs.P99, res.TTFTMs.P99,
		time.Since(start).Seconds(), filepath.Join(*out, "report.html"))
	for _, g := range res.Gates {
		mark := "pass"
		if !g.Pass {
			mark = "FAIL"
		}
		fmt.Fprintf(stdout, "  %s  %s %s  value %.4g %s", mark, g.Metric, g.Threshold, g.Value, g.Unit)
		if g.PrometheusValue != nil {
			fmt.Fprintf(stdout, "  (prometheus %.4g)", *g.PrometheusValue)
		}
		fmt.Fprintln(stdout)
	}
	if res.Prometheus != nil {
		if f := res.Prometheus.FiringAlerts(); len(f) > 0 {
			fmt.Fprintf(stdout, "  alerts firing at the end: %s\n", strings.Join(f, ", "))
		}
	}
	if !res.Pass {
		return &exitError{code: 1, err: errors.New(strings.Join(bench.FailedGateLines(res), "; "))}
	}
	return nil
}

// firstSentence shortens a description for --list.
func firstSentence(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if i := strings.Index(s, ". "); i > 0 {
		return s[:i+1]
	}
	return s
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/dsbridge/dsbridge/bench"
)

const planUsage = `Usage: dsbridge plan --results FILE [--target-qps N] [--p99 MS] [--service-ms MS] [--json]

Turns a ramp-to-knee result (results.json of 'dsbridge bench --scenario
ramp-to-knee') into a capacity plan: the load sustained at the SLO (the knee,
searched again on the stored per-second timeline at --p99), what one Ollama
instance and one bridge sustain, and how many of each a target needs with N+1
headroom, laid out like the seed article's table of instance types.

Flags:
`

// runPlan is `dsbridge plan`.
func runPlan(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		results = fs.String("results", "", "results.json of a ramp-to-knee run (required)")
		target  = fs.Float64("target-qps", 3000, "requests per second to plan for (the seed's 3000 by default)")
		p99     = fs.Float64("p99", 0, "P99 latency SLO in ms (default: the run's SLO, 500 unless it set one)")
		service = fs.Float64("service-ms", 0, "mean time a request holds a slot on a real instance, for the instance-type rows (default: the run's mean latency at the knee)")
		asJSON  = fs.Bool("json", false, "print the plan as JSON instead of markdown")
	)
	fs.Usage = func() {
		fmt.Fprint(stderr, planUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if *results == "" || fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	r, err := bench.ReadResults(*results)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	p, err := bench.MakePlan(r, *target, *p99, *service)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(p)
	}
	p.WriteMarkdown(stdout)
	return nil
}

// Command proxybench is issue 3's side-by-side proxy benchmark: in one run, on
// the same upstreams, it drives direct access, nginx (Debian's package), a plain
// httputil.ReverseProxy (a reference point) and the bridge (`dsbridge serve`)
// with wrk, and writes a table of requests/s, P50/P99 latency, proxy CPU per
// 1000 requests and streamed relay throughput.
//
//	            ┌──────────── direct ─────────────┐
//	wrk ─64 c──▶├─ nginx  (upstream keepalive) ───┤──▶ 3 upstreams (stdlib net/http
//	            ├─ httputil.ReverseProxy ─────────┤     processes, or `dsbridge sim
//	            └─ dsbridge serve ────────────────┘     --profile instant`)
//
// Everything is a real process on 127.0.0.1. The upstreams and the httputil
// baseline are this same binary re-executed in a child role (see roleEnv), so
// `go run ./bench/proxybench` needs nothing built beforehand except, for the
// bridge target, `bin/dsbridge` (built with `go build` when missing).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// roleEnv names the environment variable that turns this binary into one of
// the child processes the harness starts. An environment variable rather than
// an argument so that the same dispatch works in the test binary, whose
// arguments belong to the testing package.
const roleEnv = "DSBRIDGE_PROXYBENCH_ROLE"

func main() {
	os.Exit(mainExit(os.Args[1:], os.Stdout, os.Stderr))
}

// mainExit runs the process and returns its exit code: 0 when the benchmark
// ran (whatever the verdict), 1 when it broke, 2 on a usage error, 3 when it
// ran and the verdict is "not done" and --fail-on-verdict is set.
func mainExit(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if role := os.Getenv(roleEnv); role != "" {
		if err := runRole(ctx, role, args); err != nil {
			fmt.Fprintf(stderr, "proxybench %s: %v\n", role, err)
			return 1
		}
		return 0
	}
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	var rep *report
	if cfg.render != "" {
		rep, err = rerender(cfg.render, cfg.out)
	} else {
		rep, err = run(ctx, cfg, stderr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "proxybench: %v\n", err)
		return 1
	}
	fmt.Fprint(stdout, rep.Markdown())
	if cfg.failOnVerdict && !rep.Verdict.Done {
		return 3
	}
	return 0
}

// runRole runs one child process role until ctx is cancelled.
func runRole(ctx context.Context, role string, args []string) error {
	switch role {
	case "upstream":
		return runUpstream(ctx, args)
	case "httputil":
		return runReverseProxy(ctx, args)
	}
	return fmt.Errorf("unknown role %q", role)
}

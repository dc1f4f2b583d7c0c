// Command dsbridge is one binary with two halves: the bridge (serve), an HA
// gateway in front of a fleet of Ollama servers, and the testbed (sim, load,
// bench, plan) that proves it holds up.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand. run gets the arguments after the subcommand's
// name; it returns an *exitError to choose the process's exit code.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands is the subcommand table, explicit rather than filled by init().
func commands() map[string]command {
	return map[string]command{
		"serve":     {"run the HA gateway in front of Ollama instances", runServe},
		"sim":       {"run an Ollama-compatible simulator", runSim},
		"load":      {"drive open-model LLM load at a server and report", runLoad},
		"bench":     {"run a scenario: cluster, load, chaos, gates, report", runBench},
		"plan":      {"turn a ramp-to-knee result into a capacity plan", runPlan},
		"calibrate": {"fit the simulator's timing profile to a real Ollama server, and compare them", runCalibrate},
		"report":    {"merge the results files of sharded load generators", runReport},
		"version":   {"print the version", runVersion},

		"probe":     {"GET a URL, exit 0 on 2xx: a health check for the FROM-scratch image", runProbe},
		"images":    {"build the container images (FROM scratch, no registry) for --runtime docker and compose/", runImages},
		"tinymodel": {"write a tiny random-weight llama GGUF that real Ollama loads", runTinymodel},
	}
}

// exitError carries a process exit code with its cause.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// errUsage marks a command-line mistake: exit code 2, usage already printed.
var errUsage = errors.New("usage")

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "dsbridge: unknown command %q\n\n", args[0])
		usage(stderr, cmds)
		return 2
	}
	// The first SIGINT/SIGTERM cancels ctx so commands can drain; a second one
	// kills the process through the default handler once stop has run.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); stop() }()

	err := cmd.run(ctx, args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	fmt.Fprintf(stderr, "dsbridge %s: %v\n", args[0], err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "Usage: dsbridge <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	width := 0
	for _, n := range names {
		width = max(width, len(n))
	}
	for _, n := range names {
		fmt.Fprintf(w, "  %-*s  %s\n", width, n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'dsbridge <command> --help' for a command's flags.")
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dsbridge/dsbridge/calibrate"
	"github.com/dsbridge/dsbridge/internal/loopback"
	"github.com/dsbridge/dsbridge/internal/proc"
	"github.com/dsbridge/dsbridge/ollamasim"
)

const calibrateUsage = `Usage: dsbridge calibrate --target URL --model NAME [--out DIR] [--profile NAME|FILE] [flags]

Measures a real Ollama server serving a model (cold load, time to first token
and tokens/s at 1, 2 and 4 concurrent streams), fits the simulator's timing
profile to it, then starts 'dsbridge sim' with that profile on a loopback port,
measures it the same way, and writes both side by side:

  DIR/profile.yaml       the fitted profile ('dsbridge sim --profile DIR/profile.yaml')
  DIR/calibration.md     the side-by-side table
  DIR/calibration.json   the same, for tools (schema dsbridge.calibration/v1)

The fitted profile is then corrected by what the simulator measures of itself
(its HTTP and timer overheads) up to --refine times; the closest one is kept.
With --profile, nothing is fitted: the simulator runs with that profile and the
run checks it against the real server. Exit 0 when time to first token and one
stream's tokens/s agree within --tolerance at the lowest and the highest
concurrency (the levels in between are shown), 1 when not, 2 when the run
broke.

The real server must run at least max(--streams) requests in parallel
(OLLAMA_NUM_PARALLEL), and nothing else should load the machine: the two are
measured one after the other, and timings on a busy machine are noise.

Flags:
`

// runCalibrate is `dsbridge calibrate`.
func runCalibrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("calibrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		target    = fs.String("target", "", "the real Ollama server's root URL, e.g. http://127.0.0.1:11434 (required)")
		model     = fs.String("model", "", "the model to measure (required)")
		prompt    = fs.String("prompt", "Why is the sky blue?", "the prompt of every request")
		tokens    = fs.Int("tokens", 64, "tokens per stream (num_predict)")
		streamsF  = fs.String("streams", "1,2,4", "concurrencies to measure, comma-separated")
		rounds    = fs.Int("rounds", 3, "rounds per concurrency (figures are medians)")
		options   = fs.String("options", "", `extra generation options for every request, as JSON members, e.g. '"num_thread":1'`)
		profile   = fs.String("profile", "", "check this profile (built-in name or YAML file) instead of fitting one")
		base      = fs.String("base", "default", "the fitted profile's base, for what timing does not set (default, instant, tiny-cpu)")
		tolerance = fs.Float64("tolerance", 0.2, "allowed relative difference, sim against real")
		refine    = fs.Int("refine", 2, "when fitting: how many times to correct the profile by the simulator's own measurement")
		out       = fs.String("out", "calibration", "output folder")
	)
	fs.Usage = func() {
		fmt.Fprint(stderr, calibrateUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	streams, err := parseStreams(*streamsF)
	if *target == "" || *model == "" || fs.NArg() > 0 || err != nil || *rounds < 1 || *tokens < 2 {
		if err != nil {
			fmt.Fprintf(stderr, "dsbridge calibrate: --streams: %v\n", err)
		}
		fs.Usage()
		return errUsage
	}
	broke := func(err error) error { return &exitError{code: 2, err: err} }
	t := calibrate.Target{Base: strings.TrimRight(*target, "/"), Model: *model, Prompt: *prompt, Tokens: *tokens, Options: *options}
	rep := calibrate.Report{Schema: calibrate.Schema, Time: time.Now().UTC(), Target: t.Base, Model: *model, Prompt: *prompt,
		Tokens: *tokens, Options: *options, Rounds: *rounds, Streams: streams}

	fmt.Fprintf(stderr, "measuring %s (%s) at %v streams…\n", t.Base, *model, streams)
	real, err := calibrate.Measure(ctx, t, streams, *rounds)
	if err != nil {
		return broke(fmt.Errorf("real server: %w", err))
	}
	rep.Real = calibrate.FiguresOf(real)

	if err := os.MkdirAll(*out, 0o755); err != nil {
		return broke(err)
	}
	// The profile: the one given, or fitted and then corrected by what the
	// simulator measures of itself, up to --refine times; the closest wins.
	var prof ollamasim.Profile
	fitting := *profile == ""
	if fitting {
		profs, err := ollamasim.LoadProfiles(*base)
		if err != nil {
			return broke(fmt.Errorf("--base: %w", err))
		}
		rep.ProfileSrc, prof = "fitted", calibrate.Fit(real, profs.For(*model))
	} else {
		profs, err := ollamasim.LoadProfiles(*profile)
		if err != nil {
			return broke(err)
		}
		rep.ProfileSrc, prof = *profile, profs.For(*model)
	}
	profilePath := filepath.Join(*out, "profile.yaml")
	writeProfile := func(t calibrate.Timings) error {
		y, err := calibrate.ProfileYAML(*base, *model, t)
		if err != nil {
			return err
		}
		return os.WriteFile(profilePath, y, 0o644)
	}
	best := -1.0
	for step := 0; ; step++ {
		simProfile := *profile
		if fitting {
			if err := writeProfile(calibrate.TimingsOf(prof)); err != nil {
				return broke(err)
			}
			simProfile = profilePath
		}
		fmt.Fprintf(stderr, "measuring dsbridge sim (profile %s, step %d)…\n", rep.ProfileSrc, step)
		simT, err := measureSim(ctx, t, simProfile, streams, *rounds)
		if err != nil {
			return broke(err)
		}
		cmp := calibrate.Compare(real, simT, *tolerance)
		if best < 0 || cmp.Worst() < best {
			best = cmp.Worst()
			rep.Profile, rep.Sim, rep.Comparison, rep.Refined = calibrate.TimingsOf(prof), calibrate.FiguresOf(simT), cmp, step
		}
		if cmp.Pass || !fitting || step >= *refine {
			break
		}
		prof = calibrate.Refine(prof, real, simT)
	}
	if fitting {
		if err := writeProfile(rep.Profile); err != nil {
			return broke(err)
		}
	}
	if err := rep.WriteFiles(*out); err != nil {
		return broke(err)
	}
	fmt.Fprint(stdout, rep.Markdown())
	if !rep.Pass {
		return &exitError{code: 1, err: fmt.Errorf("the simulator is off by more than %.0f %% (%s)", *tolerance*100, filepath.Join(*out, "calibration.md"))}
	}
	return nil
}

// parseStreams reads "1,2,4": positive, distinct, ascending.
func parseStreams(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		if len(out) > 0 && n <= out[len(out)-1] {
			return nil, fmt.Errorf("%q: want ascending concurrencies", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// measureSim starts this binary's simulator with profile on a loopback
// port, measures it as t was measured, and stops it.
func measureSim(ctx context.Context, t calibrate.Target, profile string, streams []int, rounds int) (calibrate.Timing, error) {
	sim, err := startCalibrationSim(ctx, profile, t.Model, slices.Max(streams))
	if err != nil {
		return calibrate.Timing{}, err
	}
	defer sim.stop()
	t.Base = sim.url
	m, err := calibrate.Measure(ctx, t, streams, rounds)
	if err != nil {
		return m, fmt.Errorf("simulator: %w\n%s", err, sim.p.Output())
	}
	return m, nil
}

// calibrationSim is this binary's simulator on a loopback port.
type calibrationSim struct {
	p   *proc.Proc
	url string
}

func startCalibrationSim(ctx context.Context, profile, model string, parallel int) (*calibrationSim, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own binary: %w", err)
	}
	addr, err := loopback.FreeAddr()
	if err != nil {
		return nil, err
	}
	p := proc.New(proc.Spec{Name: "sim", Path: self, ReadyURL: "http://" + addr + "/",
		Args: []string{"sim", "--listen", addr, "--models", model, "--profile", profile, "--parallel", strconv.Itoa(parallel)}})
	if err := p.Start(ctx); err != nil {
		return nil, fmt.Errorf("start simulator: %w\n%s", err, p.Output())
	}
	return &calibrationSim{p: p, url: "http://" + addr}, nil
}

func (s *calibrationSim) stop() { _ = s.p.Stop(5 * time.Second) }

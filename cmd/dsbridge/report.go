package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/dsbridge/dsbridge/loadgen"
)

const reportUsage = `Usage: dsbridge report merge [--out FILE] RESULTS.json RESULTS.json …

merge adds the results of several load generators (dsbridge load --shard i/N
--out FILE on each) into one results JSON, exactly: HDR histograms, counts,
status codes, errors and the per-second timelines add up, so the merged
percentiles are those one generator would have measured over all the
shards' requests. The shards' timelines are aligned on their start times.
It prints the merged summary on stdout.

Flags:
`

// runReport is `dsbridge report`: tools that work on results files.
func runReport(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "merge" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stderr, reportUsage)
			return nil
		}
		fmt.Fprint(stderr, reportUsage)
		return errUsage
	}
	fs := flag.NewFlagSet("report merge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "write the merged results JSON to this file")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), reportUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "dsbridge report merge: give at least one results file")
		fs.Usage()
		return errUsage
	}
	merged, err := mergeResults(fs.Args())
	if err != nil {
		return err
	}
	if err := loadgen.NewTextReporter(merged)(stdout); err != nil {
		return err
	}
	if *out != "" {
		if err := writeResults(*out, merged); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nResults: %s\n", *out)
	}
	return nil
}

// mergeResults reads every file and merges them into the one that started
// first (Merge aligns later shards' timelines on it).
func mergeResults(paths []string) (*loadgen.Results, error) {
	type file struct {
		path string
		rs   *loadgen.Results
	}
	var all []file
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		rs, err := loadgen.ReadResults(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		all = append(all, file{p, rs})
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].rs.StartedAt.Before(all[j].rs.StartedAt) })
	merged := all[0].rs
	for _, f := range all[1:] {
		if err := merged.Merge(f.rs); err != nil {
			return nil, fmt.Errorf("%s: %w", f.path, err)
		}
	}
	merged.Close()
	return merged, nil
}

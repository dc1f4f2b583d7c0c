package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"
)

// runProbe is `dsbridge probe URL`: a health check for images that hold
// nothing but the dsbridge binary (no curl, no shell), as a Compose or
// Docker HEALTHCHECK runs it.
func runProbe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", 2*time.Second, "give up after this long")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: dsbridge probe [--timeout 2s] URL

GETs URL and exits 0 on a 2xx answer, 1 otherwise: a health check for the
FROM-scratch dsbridge image, e.g. in Compose:
  healthcheck: {test: ["CMD", "/dsbridge", "probe", "http://127.0.0.1:8080/ready"]}

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fs.Arg(0), nil)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return &exitError{code: 1, err: fmt.Errorf("%s: %s", fs.Arg(0), resp.Status)}
	}
	fmt.Fprintln(stdout, resp.Status)
	return nil
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/dsbridge/dsbridge/images"
)

// runImages is `dsbridge images`: builds the project's container images on
// this machine (no registry needed), reusing those whose inputs did not change.
func runImages(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("images", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("bin", "", "static dsbridge binary to put in the dsbridge image (default: this one)")
	ollama := fs.String("ollama", "", "ollama binary for the ollama image (default: $DSBRIDGE_OLLAMA_BIN or the `make ollama` cache)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: dsbridge images [--bin FILE] [--ollama FILE] [NAME...]

Builds the project's container images through the local Docker engine, all
FROM scratch: no base image is pulled. Each holds one program and the shared
libraries ldd names for it:

  dsbridge    this static binary (serve, sim, load, bench)
  ollama      real Ollama (make ollama) with the generated tiny model "tiny"
  nginx       Debian's nginx-light
  prometheus  Debian's prometheus
  redis       Debian's redis-server

Each is tagged dsbridge/NAME:HASH, HASH covering every file that goes in,
and dsbridge/NAME:latest; an image whose hash already exists is reused, so a
second run with nothing changed takes a second. With no NAME, builds all
(%s).

Flags:
`, strings.Join(images.Names(), ", "))
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	want := fs.Args()
	if len(want) == 0 {
		want = images.Names()
	}
	src := images.Sources{DSBridge: *bin, Ollama: *ollama}
	if src.DSBridge == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		src.DSBridge = exe
	}
	docker, err := images.NewDockerClient()
	if err != nil {
		return err
	}
	defer docker.Close()
	start := time.Now()
	b := &images.Builder{Docker: docker, Log: stderr}
	_, res, err := b.EnsureAll(ctx, src, want...)
	images.PrintResults(stdout, res)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d image(s) in %.1fs\n", len(res), time.Since(start).Seconds())
	return nil
}

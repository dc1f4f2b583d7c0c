package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
)

// version is stamped by the Makefile (-X main.version=…); "dev" otherwise.
var version = "dev"

func runVersion(_ context.Context, _ []string, stdout, _ io.Writer) error {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	fmt.Fprintf(stdout, "dsbridge %s\n", v)
	return nil
}

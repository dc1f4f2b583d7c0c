package main

import (
	"context"
	"errors"
	"io"
)

// runSim is not built yet: see issue 2.
func runSim(_ context.Context, _ []string, _, _ io.Writer) error {
	return errors.New("not implemented yet (issue 2)")
}

package main

import (
	"context"
	"errors"
	"io"
)

// runServe is not built yet: see issue 3.
func runServe(_ context.Context, _ []string, _, _ io.Writer) error {
	return errors.New("not implemented yet (issue 3)")
}

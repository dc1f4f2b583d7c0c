package main

import (
	"context"
	"errors"
	"io"
)

// runLoad is not built yet: see issue 4.
func runLoad(_ context.Context, _ []string, _, _ io.Writer) error {
	return errors.New("not implemented yet (issue 4)")
}

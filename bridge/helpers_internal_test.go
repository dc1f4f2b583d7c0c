package bridge

import (
	"io"
	"log/slog"
)

// discardLogger keeps unit test output to failures.
func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

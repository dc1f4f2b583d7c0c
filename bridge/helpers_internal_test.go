package bridge

import (
	"io"
	"log/slog"
)

// discardLogger keeps unit test output to failures.
func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// nopMetrics gives an upstream built outside a Handler counters that go
// nowhere, so unit tests can drive its accounting.
func nopMetrics() upstreamMetrics {
	m := upstreamMetrics{success: nopCounter{}, failure: nopCounter{}, clientError: nopCounter{}, canceled: nopCounter{}}
	for i := range m.failures {
		m.failures[i] = nopCounter{}
	}
	return m
}

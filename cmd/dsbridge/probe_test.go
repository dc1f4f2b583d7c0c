package main

import (
	"context"
	"errors"
	"io"
	"os/exec"
	"testing"

	"github.com/dsbridge/dsbridge/internal/testproc"
)

// The real binary as a health check: 0 against a ready sim, 1 against a
// dead address and against a non-2xx answer.
func TestProbeExitStatus(t *testing.T) {
	sim := testproc.Start(t, "sim", "/", "--profile", "instant")
	run := func(url string) int {
		err := exec.Command(testproc.Binary(t), "probe", "--timeout", "2s", url).Run()
		var ee *exec.ExitError
		switch {
		case err == nil:
			return 0
		case errors.As(err, &ee):
			return ee.ExitCode()
		}
		t.Fatal(err)
		return -1
	}
	if c := run(sim.URL + "/"); c != 0 {
		t.Errorf("probe of a ready sim: exit %d; want 0", c)
	}
	if c := run(sim.URL + "/no-such-path"); c != 1 {
		t.Errorf("probe of a 404: exit %d; want 1", c)
	}
	if c := run("http://" + testproc.DeadAddr(t) + "/"); c != 1 {
		t.Errorf("probe of a dead address: exit %d; want 1", c)
	}
	if err := runProbe(context.Background(), nil, io.Discard, io.Discard); !errors.Is(err, errUsage) {
		t.Errorf("probe with no URL: %v; want a usage error", err)
	}
}

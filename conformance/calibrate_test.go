package conformance

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/dsbridge/dsbridge/internal/testproc"
)

// TestCalibration runs `dsbridge calibrate --profile tiny-cpu` against real
// Ollama serving the tiny model: both measured the same way, side by side
// (the report lands in $DSBRIDGE_CALIBRATION_OUT, or the test's temporary
// folder, and in the log). It is a measuring tool (about a minute), run on
// demand with DSBRIDGE_CALIBRATE=1: timing on a shared CI machine is too
// noisy to gate on. With DSBRIDGE_CALIBRATION_STRICT=1 a figure outside
// ±20 % fails the test.
//
// DSBRIDGE_CALIBRATE_OPTIONS adds generation options to every request:
// `"num_thread":1` shows the model's speed without ggml's two threads
// spinning at barriers, which collapses on a crowded machine.
// DSBRIDGE_CALIBRATE_FIT=1 fits a profile instead of checking tiny-cpu.
func TestCalibration(t *testing.T) {
	if os.Getenv("DSBRIDGE_CALIBRATE") == "" {
		t.Skip("a measuring tool: run with DSBRIDGE_CALIBRATE=1")
	}
	real := startReal(t, "OLLAMA_NUM_PARALLEL=4")
	out := os.Getenv("DSBRIDGE_CALIBRATION_OUT")
	if out == "" {
		out = t.TempDir()
	}
	args := []string{"calibrate", "--target", real.URL, "--model", modelName, "--streams", "1,2,4", "--rounds", "3",
		"--out", out, "--options", os.Getenv("DSBRIDGE_CALIBRATE_OPTIONS")}
	if os.Getenv("DSBRIDGE_CALIBRATE_FIT") != "" {
		args = append(args, "--base", "tiny-cpu")
	} else {
		args = append(args, "--profile", "tiny-cpu")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, testproc.Binary(t), args...)
	b, err := cmd.CombinedOutput()
	t.Logf("%s", b)
	// Exit 1 is a comparison outside the tolerance; anything else broke.
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) {
		t.Fatalf("calibrate: %v\n%s", err, real.Output())
	}
	if err != nil && os.Getenv("DSBRIDGE_CALIBRATION_STRICT") != "" {
		t.Errorf("outside ±20 %%: %s", filepath.Join(out, "calibration.md"))
	}
}

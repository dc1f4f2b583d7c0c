package dashboards

import (
	"os"
	"os/exec"
	"testing"
)

// needTool returns the path of a program the test runs (prometheus,
// promtool). When it is missing the test skips on a developer's machine but
// fails where DSBRIDGE_REQUIRE_TOOLS is set (CI sets it to 1), so a CI that
// forgot to install Debian's prometheus cannot pass by skipping.
func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("DSBRIDGE_REQUIRE_TOOLS") != "" {
		t.Fatalf("%s not found and DSBRIDGE_REQUIRE_TOOLS is set: install Debian's prometheus package (.ci/run does)", name)
	}
	t.Skipf("%s not found (apt-get install prometheus); set DSBRIDGE_REQUIRE_TOOLS=1 to make this a failure", name)
	return ""
}

// runTool runs a program in dir and fails the test, with its output, if it
// exits non-zero.
func runTool(t *testing.T, dir, prog string, args ...string) string {
	t.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", prog, args, err, out)
	}
	return string(out)
}

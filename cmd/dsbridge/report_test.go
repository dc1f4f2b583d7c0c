package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestReportMergeUsage: bad invocations exit 2 with the usage; --help
// exits 0.
func TestReportMergeUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		code int
	}{
		{[]string{"report"}, 2},
		{[]string{"report", "merge"}, 2},
		{[]string{"report", "--help"}, 0},
		{[]string{"report", "merge", "--help"}, 0},
	} {
		code, _, stderr := runBinary(t, tt.args...)
		if code != tt.code || !strings.Contains(stderr, "Usage: dsbridge report merge") {
			t.Errorf("%v: exit %d, want %d; stderr:\n%s", tt.args, code, tt.code, stderr)
		}
	}
	code, _, stderr := runBinary(t, "report", "merge", filepath.Join(t.TempDir(), "missing.json"))
	if code != 1 || !strings.Contains(stderr, "missing.json") {
		t.Errorf("missing file: exit %d\n%s", code, stderr)
	}
}

package main

import (
	"strings"
	"testing"
)

// TestUsageListsEveryCommandAligned runs the real binary's --help: every
// command is listed once, and the summaries start in one column however long
// the longest command name is.
func TestUsageListsEveryCommandAligned(t *testing.T) {
	code, stdout, stderr := runBinary(t, "--help")
	if code != 0 {
		t.Fatalf("--help: exit %d\n%s", code, stderr)
	}
	out := stdout + stderr
	_, list, ok := strings.Cut(out, "Commands:\n")
	if !ok {
		t.Fatalf("no command list:\n%s", out)
	}
	list, _, _ = strings.Cut(list, "\n\n")
	seen := map[string]bool{}
	column := -1
	for _, line := range strings.Split(list, "\n") {
		name := strings.Fields(line)[0]
		seen[name] = true
		rest := strings.TrimPrefix(line, "  "+name)
		at := len(line) - len(strings.TrimLeft(rest, " "))
		if column < 0 {
			column = at
		}
		if at != column || len(rest) == len(strings.TrimLeft(rest, " ")) {
			t.Errorf("summary of %q starts at column %d, others at %d:\n%s", name, at, column, list)
		}
	}
	for _, want := range []string{"serve", "sim", "bench", "load", "calibrate", "tinymodel", "version"} {
		if !seen[want] {
			t.Errorf("--help does not list %q:\n%s", want, list)
		}
	}
}

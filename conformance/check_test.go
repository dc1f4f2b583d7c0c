package conformance

import (
	"path/filepath"
	"testing"
)

// knownDifferences loads testdata/known-differences.txt.
func knownDifferences(t *testing.T) Known {
	t.Helper()
	k, err := LoadKnown(filepath.Join("testdata", "known-differences.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// compare fails the test when the simulator's render differs from real
// Ollama's, printing the diff — unless the step is a listed known
// difference (and the run is not strict), when it logs the diff instead.
// A listed step that no longer differs fails: take it off the list.
func compare(t *testing.T, known Known, step, what string, real, sim []string) bool {
	t.Helper()
	saveRenders(t, step, real, sim)
	d := Diff(real, sim)
	reason, listed := known[step]
	switch {
	case d == "" && listed:
		t.Errorf("%s: listed in testdata/known-differences.txt (%s) but the simulator now matches real Ollama: remove it from the list", step, reason)
	case d == "":
		return true
	case listed && !strict():
		t.Logf("%s: KNOWN DIFFERENCE (%s), not failing; DSBRIDGE_CONFORMANCE_STRICT=1 fails it:\n%s\n(-real +sim):\n%s", step, reason, what, d)
	default:
		t.Errorf("%s: %s\nsimulator differs from real Ollama (-real +sim):\n%s", step, what, d)
	}
	return false
}

package conformance

import (
	"path/filepath"
	"testing"
)

// Every name in the known-differences list is a step of the corpus or a
// burst phase: a typo would silently excuse nothing and hide a stale entry.
func TestKnownDifferencesNameSteps(t *testing.T) {
	k, err := LoadKnown(filepath.Join("testdata", "known-differences.txt"))
	if err != nil {
		t.Fatal(err)
	}
	steps := map[string]bool{"burst_cold": true, "burst_warm": true}
	for _, r := range Corpus() {
		if steps[r.Name] {
			t.Errorf("corpus step %s appears twice", r.Name)
		}
		steps[r.Name] = true
	}
	for name, reason := range k {
		if !steps[name] {
			t.Errorf("known difference %q (%s) names no corpus step", name, reason)
		}
		if reason == "" {
			t.Errorf("known difference %q gives no reason", name)
		}
	}
}

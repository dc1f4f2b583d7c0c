package ollamatest

import (
	"os"
	"path/filepath"
	"testing"
)

// findBinary follows build-ollama.sh's rule: $DSBRIDGE_OLLAMA_BIN first,
// then the cache folder under $DSBRIDGE_OLLAMA_CACHE or $XDG_CACHE_HOME.
func TestFindBinary(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "dsbridge", "ollama-v"+Version, "bin", "ollama")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DSBRIDGE_OLLAMA_BIN", "")
	t.Setenv("DSBRIDGE_OLLAMA_CACHE", "")
	t.Setenv("XDG_CACHE_HOME", dir)
	if _, err := findBinary(); err == nil {
		t.Error("found a binary in an empty cache")
	}
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if p, err := findBinary(); err != nil || p != bin {
		t.Errorf("findBinary() = %q, %v; want %q", p, err, bin)
	}
	t.Setenv("DSBRIDGE_OLLAMA_BIN", filepath.Join(dir, "missing"))
	if _, err := findBinary(); err == nil {
		t.Error("a missing $DSBRIDGE_OLLAMA_BIN was accepted")
	}
}

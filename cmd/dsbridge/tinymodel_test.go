package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTinymodelCommand(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "tiny.gguf")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"tinymodel", "-o", out, "--seed", "5"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 387392 || string(b[:4]) != "GGUF" {
		t.Errorf("wrote %d bytes starting %q", len(b), b[:4])
	}
	// The same seed to standard output gives the same bytes.
	stdout.Reset()
	if code := run([]string{"tinymodel", "-o", "-", "--seed", "5"}, &stdout, &stderr); code != 0 || !bytes.Equal(stdout.Bytes(), b) {
		t.Errorf("-o - (exit %d) differs from the file", code)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".tinymodel-*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestTinymodelUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"tinymodel", "--help"}, 0},                  // help is not an error
		{[]string{"tinymodel"}, 2},                            // -o is required
		{[]string{"tinymodel", "-o", "x.gguf", "extra"}, 2},   // no positional arguments
		{[]string{"tinymodel", "-o", "-", "--heads", "3"}, 1}, // 64 is not a multiple of 3
	} {
		var stdout, stderr bytes.Buffer
		if code := run(c.args, &stdout, &stderr); code != c.code {
			t.Errorf("%v: exit %d, want %d\n%s", c.args, code, c.code, stderr.String())
		}
		if c.code == 0 && !strings.Contains(stderr.String(), "ollama create tiny") {
			t.Errorf("--help does not say how to use the model:\n%s", stderr.String())
		}
	}
}

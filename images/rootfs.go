package images

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// WithLibraries returns the binary at src as File dst plus every shared
// library and the loader that ldd(1) says it needs, each at the path the
// loader looks for it, so that the program runs in an otherwise empty image.
// A static binary needs none.
func WithLibraries(src, dst string) ([]File, error) {
	out := []File{{Src: src, Dst: dst}}
	libs, err := sharedLibraries(src)
	if err != nil {
		return nil, err
	}
	for _, l := range libs {
		// The file ldd names may be a symlink: copy what it points to
		// under the name the loader asks for.
		real, err := filepath.EvalSymlinks(l)
		if err != nil {
			return nil, fmt.Errorf("%s needs %s: %w", src, l, err)
		}
		out = append(out, File{Src: real, Dst: l})
	}
	return out, nil
}

// sharedLibraries runs ldd on the binary and returns the absolute paths it
// lists: "libm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x…)" and the loader's
// "/lib64/ld-linux-x86-64.so.2 (0x…)". The vDSO has no file and is skipped.
func sharedLibraries(bin string) ([]string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("ldd", bin)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	text := stdout.String() + stderr.String()
	if strings.Contains(text, "not a dynamic executable") || strings.Contains(text, "statically linked") {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %v: %s", bin, err, strings.TrimSpace(text))
	}
	return parseLdd(stdout.String())
}

// parseLdd reads ldd's output; a "not found" library is an error, since the
// program would not start in the image.
func parseLdd(s string) ([]string, error) {
	var libs []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if strings.Contains(line, "not found") {
			return nil, fmt.Errorf("ldd: %s", line)
		}
		path := line
		if _, after, ok := strings.Cut(line, "=>"); ok {
			path = strings.TrimSpace(after)
		}
		if i := strings.Index(path, " ("); i >= 0 {
			path = path[:i]
		}
		if strings.HasPrefix(path, "/") {
			libs = append(libs, path)
		}
	}
	return libs, sc.Err()
}

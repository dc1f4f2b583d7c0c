package images

import (
	"context"
	"fmt"
	"io"
	"sort"
	"time"
)

// Names lists every image the project builds.
var names = []string{"dsbridge", "ollama", "nginx", "prometheus", "redis"}

// Names returns the names of the images `dsbridge images` builds.
func Names() []string { return append([]string(nil), names...) }

// Sources says where the images' inputs are on this machine.
type Sources struct {
	DSBridge string // the static dsbridge binary
	Ollama   string // the ollama binary ("": OllamaBinary())
}

// Define returns the named image built from src.
func Define(name string, src Sources) (*Image, error) {
	switch name {
	case "dsbridge":
		return DSBridge(src.DSBridge)
	case "ollama":
		bin := src.Ollama
		if bin == "" {
			var err error
			if bin, err = OllamaBinary(); err != nil {
				return nil, err
			}
		}
		return Ollama(bin)
	case "nginx":
		return Nginx()
	case "prometheus":
		return Prometheus()
	case "redis":
		return Redis()
	}
	return nil, fmt.Errorf("no image %q (have %v)", name, names)
}

// Result is what EnsureAll did for one image.
type Result struct {
	Name  string
	Ref   string
	Built bool
	Took  time.Duration
}

// EnsureAll makes sure each named image exists, in the order given, and
// maps each name to its content-addressed reference.
func (b *Builder) EnsureAll(ctx context.Context, src Sources, want ...string) (map[string]string, []Result, error) {
	refs := map[string]string{}
	var results []Result
	sort.SliceStable(want, func(i, j int) bool { return want[i] < want[j] })
	for _, n := range want {
		if _, ok := refs[n]; ok {
			continue
		}
		start := time.Now()
		im, err := Define(n, src)
		if err != nil {
			return nil, results, fmt.Errorf("image %s: %w", n, err)
		}
		ref, built, err := b.Ensure(ctx, im)
		if err != nil {
			return nil, results, err
		}
		refs[n] = ref
		results = append(results, Result{Name: n, Ref: ref, Built: built, Took: time.Since(start)})
	}
	return refs, results, nil
}

// PrintResults writes one line per image.
func PrintResults(w io.Writer, rs []Result) {
	for _, r := range rs {
		what := "reused"
		if r.Built {
			what = "built"
		}
		fmt.Fprintf(w, "%-11s %-40s %-6s %6.1fs\n", r.Name, r.Ref, what, r.Took.Seconds())
	}
}

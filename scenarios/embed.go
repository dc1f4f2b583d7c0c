package scenarios

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
)

// files holds the shipped scenarios, so that the binary carries them.
//
//go:embed *.yaml schema.json
var files embed.FS

// Names lists the shipped scenarios, sorted.
func Names() []string {
	entries, _ := fs.Glob(files, "*.yaml")
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e, ".yaml"))
	}
	sort.Strings(names)
	return names
}

// Schema returns the JSON Schema of the format.
func Schema() []byte {
	b, _ := files.ReadFile("schema.json")
	return b
}

// Load returns a shipped scenario by name, or reads a file when nameOrPath
// looks like a path (has a slash or a .yaml/.yml suffix, or names an existing
// file).
func Load(nameOrPath string) (*Scenario, error) {
	if b, err := files.ReadFile(nameOrPath + ".yaml"); err == nil && !strings.ContainsRune(nameOrPath, '/') {
		return Parse(b)
	}
	looksLikePath := strings.ContainsRune(nameOrPath, '/') || path.Ext(nameOrPath) == ".yaml" || path.Ext(nameOrPath) == ".yml"
	if _, err := os.Stat(nameOrPath); err == nil || looksLikePath {
		b, err := os.ReadFile(nameOrPath)
		if err != nil {
			return nil, err
		}
		return Parse(b)
	}
	return nil, fmt.Errorf("no scenario %q: not a file, and not one of %s", nameOrPath, strings.Join(Names(), ", "))
}

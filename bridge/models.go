package bridge

import "strings"

// modelSet is what one instance is known to have: on disk (from /api/tags)
// and loaded in memory (from /api/ps). It is immutable once built and swapped
// whole through an atomic pointer, so the hot path reads it without locks.
type modelSet struct {
	onDisk map[string]struct{}
	loaded map[string]struct{}
	// known is false until /api/tags answered once: an instance we know
	// nothing about is tried rather than skipped.
	known bool
}

// tier orders instances for a model: 2 loaded, 1 on disk, 0 unknown, -1 known
// not to have it.
func (m *modelSet) tier(model string) int {
	if m == nil || !m.known {
		return 0
	}
	if _, ok := m.loaded[model]; ok {
		return 2
	}
	if _, ok := m.onDisk[model]; ok {
		return 1
	}
	return -1
}

// normalizeModel gives the name Ollama lists: "tiny" is "tiny:latest". It
// allocates only when the tag is missing.
func normalizeModel(name string) string {
	if name == "" {
		return ""
	}
	slash := strings.LastIndexByte(name, '/')
	if strings.IndexByte(name[slash+1:], ':') >= 0 {
		return name
	}
	return name + ":latest"
}

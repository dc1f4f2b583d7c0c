package chaos

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Resolve turns an event's target selector into targets:
//   - a name (sim-2, bridge-1): that one;
//   - a group (sims, ollamas, bridges): all of that kind, in order;
//   - random-sim, random-ollama, random-bridge: one of that kind, picked with rng so that a
//     seeded run picks the same one every time.
func Resolve(selector string, all []Target, rng *rand.Rand) ([]Target, error) {
	byKind := func(kind string) []Target {
		var out []Target
		for _, t := range all {
			if t.Kind == kind {
				out = append(out, t)
			}
		}
		return out
	}
	switch selector {
	case "sims", "ollamas", "bridges":
		out := byKind(strings.TrimSuffix(selector, "s"))
		if len(out) == 0 {
			return nil, fmt.Errorf("chaos: no %s in the topology", selector)
		}
		return out, nil
	case "random-sim", "random-ollama", "random-bridge":
		c := byKind(strings.TrimPrefix(selector, "random-"))
		if len(c) == 0 {
			return nil, fmt.Errorf("chaos: nothing to pick for %s", selector)
		}
		return []Target{c[rng.IntN(len(c))]}, nil
	}
	for _, t := range all {
		if t.Name == selector {
			return []Target{t}, nil
		}
	}
	names := make([]string, len(all))
	for i, t := range all {
		names[i] = t.Name
	}
	return nil, fmt.Errorf("chaos: no target %q (have %s, sims, bridges, random-sim, random-bridge)", selector, strings.Join(names, ", "))
}

package chaos

import (
	"math/rand/v2"
	"testing"
)

func TestResolve(t *testing.T) {
	all := []Target{{Name: "sim-1", Kind: "sim"}, {Name: "sim-2", Kind: "sim"}, {Name: "sim-3", Kind: "sim"}, {Name: "bridge-1", Kind: "bridge"}}
	cases := []struct {
		sel  string
		want int // targets, -1 for an error
	}{
		{"sim-2", 1},
		{"sims", 3},
		{"bridges", 1},
		{"random-sim", 1},
		{"sim-9", -1},
	}
	for _, c := range cases {
		got, err := Resolve(c.sel, all, rand.New(rand.NewPCG(1, 1)))
		if (c.want < 0) != (err != nil) || (c.want >= 0 && len(got) != c.want) {
			t.Errorf("Resolve(%q) = %v, %v; want %d", c.sel, got, err, c.want)
		}
	}
	// Seeded: the same seed picks the same sim every time.
	pick := func(seed uint64) string {
		got, _ := Resolve("random-sim", all, rand.New(rand.NewPCG(seed, seed)))
		return got[0].Name
	}
	first, again := pick(42), pick(42)
	if first != again {
		t.Errorf("random-sim picked %s then %s with the same seed", first, again)
	}
}

func TestRegistry(t *testing.T) {
	want := []string{"container_pause", "cpu_limit", "kill", "network", "oom", "partition", "pause", "rolling_restart", "sim_fault", "stop"}
	got := Actions()
	if len(got) != len(want) {
		t.Fatalf("actions %v; want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("actions %v; want %v", got, want)
		}
	}
	if _, err := New("nuke", Spec{}, Deps{}); err == nil {
		t.Error("unknown action must fail")
	}
}

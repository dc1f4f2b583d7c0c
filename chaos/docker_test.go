package chaos

import (
	"context"
	"strings"
	"testing"
)

// The container actions refuse a local process and say what to do; their
// effect on real containers is tested in e2e/containers.
func TestContainerActionsNeedContainers(t *testing.T) {
	p, _ := startHelper(t, "sim-1")
	for _, action := range []string{"container_pause", "partition", "cpu_limit", "oom"} {
		inj, err := New(action, Spec{CPUs: 0.5}, Deps{})
		if err != nil {
			t.Fatalf("%s: %v", action, err)
		}
		_, err = inj.Inject(context.Background(), []Target{{Name: "sim-1", Kind: "sim", Proc: p}})
		if err == nil || !strings.Contains(err.Error(), "--runtime docker") {
			t.Errorf("%s on a process: %v; want an error naming --runtime docker", action, err)
		}
	}
	if _, err := New("cpu_limit", Spec{}, Deps{}); err == nil {
		t.Error("cpu_limit without cpus must fail")
	}
}

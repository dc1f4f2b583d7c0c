package chaos

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestRollingRestart(t *testing.T) {
	p1, a1 := startHelper(t, "bridge-1")
	p2, a2 := startHelper(t, "bridge-2")
	pid1, _ := getPid(a1, time.Second)
	pid2, _ := getPid(a2, time.Second)
	inj, _ := New("rolling_restart", Spec{Interval: 200 * time.Millisecond, Grace: 3 * time.Second}, Deps{})
	start := time.Now()
	revert, err := inj.Inject(context.Background(), []Target{
		{Name: "bridge-1", Kind: "bridge", Proc: p1}, {Name: "bridge-2", Kind: "bridge", Proc: p2}})
	if err != nil || revert != nil {
		t.Fatalf("inject: %v (revert %v)", err, revert != nil)
	}
	if time.Since(start) < 200*time.Millisecond {
		t.Error("the interval between the two restarts was not kept")
	}
	n1, err1 := getPid(a1, time.Second)
	n2, err2 := getPid(a2, time.Second)
	if err1 != nil || err2 != nil || n1 == pid1 || n2 == pid2 {
		t.Fatalf("pids %d→%d (%v), %d→%d (%v): both must be new processes", pid1, n1, err1, pid2, n2, err2)
	}
	// SIGTERM, not SIGKILL: each helper had the chance to drain.
	for _, p := range []interface{ Output() string }{p1, p2} {
		if !strings.Contains(p.Output(), "drained") {
			t.Errorf("a bridge was not stopped gracefully: %q", p.Output())
		}
	}
}

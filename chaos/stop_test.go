package chaos

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"
)

// stop ends the process gracefully (the helper exits on SIGTERM) and its
// revert starts it again.
func TestStopAndStart(t *testing.T) {
	p, addr := startHelper(t, "bridge-1")
	before, err := getPid(addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	inj, err := New("stop", Spec{Grace: 5 * time.Second}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	revert, err := inj.Inject(context.Background(), []Target{{Name: "bridge-1", Kind: "bridge", Proc: p}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Running() {
		t.Fatal("still running after stop")
	}
	if _, err := getPid(addr, time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("want connection refused, got %v", err)
	}
	if err := revert(context.Background()); err != nil {
		t.Fatal(err)
	}
	if after, err := getPid(addr, time.Second); err != nil || after == before {
		t.Fatalf("after start: pid %d (before %d), %v", after, before, err)
	}
}

package chaos

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"
)

func TestKillAndRestart(t *testing.T) {
	p, addr := startHelper(t, "sim-1")
	before, err := getPid(addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	inj, err := New("kill", Spec{}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	revert, err := inj.Inject(context.Background(), []Target{{Name: "sim-1", Kind: "sim", Proc: p}})
	if err != nil {
		t.Fatal(err)
	}
	// The fault is in place when Inject returns: the pid is gone and the
	// port refuses connections.
	if err := syscall.Kill(before, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("pid %d still exists after kill (%v)", before, err)
	}
	if _, err := getPid(addr, time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("want connection refused, got %v", err)
	}
	if err := revert(context.Background()); err != nil {
		t.Fatal(err)
	}
	after, err := getPid(addr, time.Second)
	if err != nil || after == before {
		t.Fatalf("after restart: pid %d (before %d), %v", after, before, err)
	}
}

package chaos

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

func TestPauseIsAHungServer(t *testing.T) {
	p, addr := startHelper(t, "sim-2")
	inj, _ := New("pause", Spec{}, Deps{})
	revert, err := inj.Inject(context.Background(), []Target{{Name: "sim-2", Kind: "sim", Proc: p}})
	if err != nil {
		t.Fatal(err)
	}
	// Hung, not dead: the connection is accepted by the kernel, the request
	// times out rather than being refused.
	_, err = getPid(addr, 300*time.Millisecond)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("want a time-out from a paused server, got %v", err)
	}
	if err := revert(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := getPid(addr, 2*time.Second); err != nil {
		t.Fatalf("after SIGCONT: %v", err)
	}
}

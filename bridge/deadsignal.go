package bridge

import (
	"net"
	"sync"
)

// deadSignal is one "alive" period of an upstream: the connections of
// attempts in flight that have written nothing to their client yet register
// here, and when the health checks declare the upstream dead every one of
// them is cut (a deadline in the past wakes its blocked read at once), so
// that the attempt is re-sent elsewhere. A set under a mutex rather than a
// context with AfterFunc: no allocation and no goroutine per attempt.
type deadSignal struct {
	mu    sync.Mutex
	dead  bool
	conns map[net.Conn]struct{}
}

func newDeadSignal() *deadSignal { return &deadSignal{conns: map[net.Conn]struct{}{}} }

// watch registers c; if the upstream is already dead, c is cut at once.
func (d *deadSignal) watch(c net.Conn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dead {
		_ = c.SetDeadline(aLongTimeAgo)
		return
	}
	d.conns[c] = struct{}{}
}

// unwatch forgets c; false means it was cut.
func (d *deadSignal) unwatch(c net.Conn) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dead {
		return false
	}
	delete(d.conns, c)
	return true
}

// kill cuts every registered connection; later watches are cut at once.
func (d *deadSignal) kill() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dead = true
	for c := range d.conns {
		_ = c.SetDeadline(aLongTimeAgo)
	}
	clear(d.conns)
}

// err is errUpstreamDead once killed.
func (d *deadSignal) err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dead {
		return errUpstreamDead
	}
	return nil
}

package bridge

import (
	"context"
	"net"
	"sync"
	"time"
)

// reqCtx is a fast-server request's context: done when the handler returns
// or the client is seen leaving, like net/http's, but without a parent to
// register with. It implements the AfterFunc method that context.AfterFunc
// looks for, so the bridge's per-attempt AfterFunc costs a slice append
// instead of a goroutine waiting on Done.
type reqCtx struct {
	mu    sync.Mutex
	done  chan struct{} // made on first Done
	err   error
	gone  bool // the client left (not merely the handler returning)
	funcs []afterFunc
	seq   uint64
	// poison is an upstream connection to cut (a deadline in the past) when
	// the request ends early: the proxy's one exchange at a time, kept in a
	// slot rather than through AfterFunc (proxy.go).
	poison net.Conn
}

type afterFunc struct {
	id uint64
	f  func()
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (c *reqCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c *reqCtx) Value(any) any               { return nil }

func (c *reqCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		if c.err != nil {
			return closedChan
		}
		c.done = make(chan struct{})
	}
	return c.done
}

func (c *reqCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// AfterFunc arranges for f to run (in its own goroutine, as
// context.AfterFunc promises) once c is done.
func (c *reqCtx) AfterFunc(f func()) (stop func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		go f()
		return func() bool { return false }
	}
	c.seq++
	id := c.seq
	c.funcs = append(c.funcs, afterFunc{id, f})
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, a := range c.funcs {
			if a.id == id {
				c.funcs = append(c.funcs[:i], c.funcs[i+1:]...)
				return true
			}
		}
		return false
	}
}

func (c *reqCtx) cancel(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	if c.done != nil {
		close(c.done)
	}
	funcs := c.funcs
	c.funcs = nil
	if c.poison != nil {
		_ = c.poison.SetDeadline(aLongTimeAgo)
		c.poison = nil
	}
	c.mu.Unlock()
	for _, a := range funcs {
		go a.f()
	}
}

// poisonOnDone has c's deadline set in the past once the context is done
// (at once if it already is).
func (c *reqCtx) poisonOnDone(conn net.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		_ = conn.SetDeadline(aLongTimeAgo)
		return
	}
	c.poison = conn
}

// stopPoison forgets conn; false means it was already cut.
func (c *reqCtx) stopPoison(conn net.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.poison == conn {
		c.poison = nil
		return true
	}
	return false
}

// clientGone reports whether the watch saw the client leave.
func (c *reqCtx) clientGone() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gone
}

func (c *reqCtx) leave() {
	c.mu.Lock()
	c.gone = true
	c.mu.Unlock()
	c.cancel(context.Canceled)
}

package bridge

import (
	"context"
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
	c.mu.Unlock()
	for _, a := range funcs {
		go a.f()
	}
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

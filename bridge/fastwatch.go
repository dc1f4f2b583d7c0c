package bridge

import (
	"sync"
	"time"
)

// connWatch notices a client that leaves while its request runs, so that
// the upstream call is cut (through the request's context) instead of
// generating for nobody. net/http does this with a background read for
// every request; here the read starts only once a request has run for
// watchDelay (to 2×watchDelay) with its body consumed.
//
// The timer is lazy: a request does not reset or stop it. Once set, it
// fires watchDelay later and looks at the request running then. If that
// request is the one running when it was set, it has run watchDelay and
// the read starts; if a later request is running, the timer is set again
// for it; if none, the timer stays off until the next request. On a busy
// connection that is one timer operation per watchDelay instead of two per
// request (a runtime timer update each, under the timers' lock).
type connWatch struct {
	c     *fastConn
	timer *time.Timer
	mu    sync.Mutex
	state watchState
	ctx   *reqCtx
	ended *sync.Cond
	// seq counts armed requests (the first is 1); due is the one the
	// timer was set for, 0 while the timer is not set.
	seq, due uint64
}

type watchState int

const (
	watchOff     watchState = iota
	watchArmed              // a request runs; the timer may start a read
	watchReading            // a one-byte read is in progress
)

func (w *connWatch) init(c *fastConn) {
	w.c = c
	w.ended = sync.NewCond(&w.mu)
	w.timer = time.AfterFunc(time.Hour, w.fire)
	w.timer.Stop()
}

// arm marks a request as running; called when its body is fully read.
func (w *connWatch) arm(ctx *reqCtx) {
	w.mu.Lock()
	w.seq++
	w.ctx, w.state = ctx, watchArmed
	set := w.due == 0
	if set {
		w.due = w.seq
	}
	w.mu.Unlock()
	if set {
		w.timer.Reset(watchDelay)
	}
}

// fire runs in the timer's goroutine. For a request that has run
// watchDelay it blocks on a one-byte read until the client sends something
// (a pipelined request: the byte is kept for it), closes the connection
// (the request is cancelled), or stop aborts it.
func (w *connWatch) fire() {
	w.mu.Lock()
	switch {
	case w.state != watchArmed:
		w.due = 0
		w.mu.Unlock()
		return
	case w.seq != w.due:
		// A later request, armed less than watchDelay ago.
		w.due = w.seq
		w.mu.Unlock()
		w.timer.Reset(watchDelay)
		return
	}
	w.due = 0
	w.state = watchReading
	ctx := w.ctx
	w.mu.Unlock()

	var b [1]byte
	n, err := w.c.nc.Read(b[:])
	if n == 1 {
		w.c.cr.putStash(b[0])
	} else if err != nil && !isTimeout(err) {
		ctx.leave()
	}

	w.mu.Lock()
	w.state = watchOff
	w.ended.Broadcast()
	w.mu.Unlock()
}

// stop ends the watch when the request is done: a read in progress is
// woken by a deadline in the past and waited for, so that the connection is
// the serve loop's alone again. The timer is left to fire and find nothing
// to do (or the next request).
func (w *connWatch) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state == watchReading {
		_ = w.c.nc.SetReadDeadline(aLongTimeAgo)
		for w.state == watchReading {
			w.ended.Wait()
		}
	}
	w.state, w.ctx = watchOff, nil
}

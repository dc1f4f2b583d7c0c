package bridge

import (
	"sync"
	"time"
)

// connWatch notices a client that leaves while its request runs, so that
// the upstream call is cut (through the request's context) instead of
// generating for nobody. net/http does this with a background read for
// every request; here the read starts only once a request has run for
// watchDelay with its body consumed, so short requests cost one timer reset
// and one stop.
type connWatch struct {
	c     *fastConn
	timer *time.Timer
	mu    sync.Mutex
	state watchState
	ctx   *reqCtx
	ended *sync.Cond
}

type watchState int

const (
	watchOff     watchState = iota
	watchArmed              // timer running
	watchReading            // a one-byte read is in progress
)

func (w *connWatch) init(c *fastConn) {
	w.c = c
	w.ended = sync.NewCond(&w.mu)
	w.timer = time.AfterFunc(time.Hour, w.read)
	w.timer.Stop()
}

// arm starts the delay; called when the request body is fully read.
func (w *connWatch) arm(ctx *reqCtx) {
	w.mu.Lock()
	w.ctx, w.state = ctx, watchArmed
	w.mu.Unlock()
	w.timer.Reset(watchDelay)
}

// read runs in the timer's goroutine: it blocks on a one-byte read until the
// client sends something (a pipelined request: the byte is kept for it),
// closes the connection (the request is cancelled), or stop aborts it.
func (w *connWatch) read() {
	w.mu.Lock()
	if w.state != watchArmed {
		w.mu.Unlock()
		return
	}
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
// the serve loop's alone again. The timer's result says nothing here: a
// callback from an earlier arm may have started reading late (under load,
// after the request it was meant for), so the state alone decides.
func (w *connWatch) stop() {
	w.timer.Stop()
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

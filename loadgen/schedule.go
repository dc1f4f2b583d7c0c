package loadgen

import (
	"iter"
	"time"
)

// Arrivals yields the intended send offsets (from the start of the run) of
// an open-model run: hit n is due at the previous hit's offset plus
// p.Pace(thatOffset, n). Because the pacer sees a virtual clock, the
// schedule is a pure function of the pacer, fixed before the first request
// and unaffected by how slowly the server answers (no coordinated omission).
//
// It stops when the pacer says stop, when an arrival would fall after
// duration (duration <= 0: no limit but the pacer's), or after max arrivals
// (max == 0: no limit), so a pacer that never stops still ends.
func Arrivals(p Pacer, duration time.Duration, max uint64) iter.Seq[time.Duration] {
	return func(yield func(time.Duration) bool) {
		var t time.Duration
		for hits := uint64(0); max == 0 || hits < max; hits++ {
			wait, stop := p.Pace(t, hits)
			if stop {
				return
			}
			if wait > 0 {
				t += wait
			}
			if duration > 0 && t > duration {
				return
			}
			if !yield(t) {
				return
			}
		}
	}
}

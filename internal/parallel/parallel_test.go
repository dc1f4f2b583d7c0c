package parallel

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestEachRunsAllAtOnceAndJoinsErrors(t *testing.T) {
	var running, peak atomic.Int32
	boom := errors.New("boom")
	err := Each([]int{1, 2, 3, 4}, func(i int) error {
		n := running.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(50 * time.Millisecond)
		running.Add(-1)
		if i%2 == 0 {
			return boom
		}
		return nil
	})
	if peak.Load() != 4 {
		t.Errorf("at most %d ran at once; want 4", peak.Load())
	}
	if !errors.Is(err, boom) {
		t.Errorf("err %v; want boom joined", err)
	}
	if err := Each([]int{1}, func(int) error { return nil }); err != nil {
		t.Errorf("all succeeded: %v", err)
	}
}

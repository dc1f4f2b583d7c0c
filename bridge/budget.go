package bridge

import "sync/atomic"

// budget is the retry budget: every request deposits ratio of a token, every
// retry withdraws one; the reserve never exceeds min + 10 s worth of deposits
// at ratio. Lock-free, in milli-tokens.
type budget struct {
	milli   atomic.Int64
	deposit int64
	max     int64
}

func newBudget(c RetryConfig) *budget {
	b := &budget{deposit: int64(c.BudgetRatio * 1000), max: int64(c.BudgetMin)*1000 + 1000*100}
	b.milli.Store(int64(c.BudgetMin) * 1000)
	return b
}

func (b *budget) onRequest() {
	if b.deposit == 0 {
		return
	}
	if b.milli.Add(b.deposit) > b.max {
		b.milli.Store(b.max)
	}
}

func (b *budget) withdraw() bool {
	if b.milli.Add(-1000) >= 0 {
		return true
	}
	b.milli.Add(1000)
	return false
}

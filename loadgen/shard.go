package loadgen

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Shard is one of Count load generators that together send what one
// generator would: shard Index takes arrivals Index, Index+Count,
// Index+2·Count… of the full schedule, each with the request the full run
// would have drawn for it. So the shards' union is exactly the one-machine
// run, split by rate and by mix, and their results merge (Results.Merge)
// into what one machine would have measured. The zero value (Count 0 or 1)
// is the whole run.
type Shard struct {
	Index int // 0-based
	Count int
}

// ParseShard reads "i/N" (0 <= i < N), as a Kubernetes Indexed Job passes
// $(JOB_COMPLETION_INDEX).
func ParseShard(s string) (Shard, error) {
	is, ns, ok := strings.Cut(s, "/")
	if !ok {
		return Shard{}, fmt.Errorf("shard %q: want i/N", s)
	}
	i, err1 := strconv.Atoi(strings.TrimSpace(is))
	n, err2 := strconv.Atoi(strings.TrimSpace(ns))
	if err1 != nil || err2 != nil {
		return Shard{}, fmt.Errorf("shard %q: want i/N with integers", s)
	}
	sh := Shard{Index: i, Count: n}
	if n < 1 { // the zero Shard means "not sharded", but "0/0" is a mistake
		return Shard{}, fmt.Errorf("shard %q: want 0 <= i < N <= 10000", s)
	}
	return sh, sh.validate()
}

func (s Shard) validate() error {
	if s.Count == 0 && s.Index == 0 {
		return nil
	}
	if s.Count < 1 || s.Count > 10000 || s.Index < 0 || s.Index >= s.Count {
		return fmt.Errorf("shard %d/%d: want 0 <= i < N <= 10000", s.Index, s.Count)
	}
	return nil
}

// split reports whether s divides the run at all.
func (s Shard) split() bool { return s.Count > 1 }

func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// global is the full run's arrival index of this shard's arrival seq.
func (s Shard) global(seq uint64) uint64 { return seq*uint64(s.Count) + uint64(s.Index) }

// ShardPacer paces one shard: its hit h is the inner pacer's hit
// h·Count+Index, at the time the inner pacer gives that hit. Like every
// pacer here it assumes elapsed is the previous hit's intended time; the
// inner pacer must be pure in (elapsed, hits), as ConstantPacer,
// PoissonPacer and StagePacer are.
type ShardPacer struct {
	Pacer Pacer
	Shard Shard
}

var _ Pacer = ShardPacer{}

// Pace walks the inner pacer over the other shards' hits since this
// shard's previous one.
func (p ShardPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	target := p.Shard.global(hits)
	from := uint64(0)
	if hits > 0 {
		from = p.Shard.global(hits-1) + 1
	}
	t := elapsed
	for g := from; g <= target; g++ {
		w, stop := p.Pacer.Pace(t, g)
		if stop {
			return 0, true
		}
		if w > 0 {
			t += w
		}
	}
	return t - elapsed, false
}

// Rate is this shard's share of the inner rate.
func (p ShardPacer) Rate(elapsed time.Duration) float64 {
	return p.Pacer.Rate(elapsed) / float64(p.Shard.Count)
}

func (p ShardPacer) String() string { return fmt.Sprintf("shard %s of %v", p.Shard, p.Pacer) }

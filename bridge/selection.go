package bridge

import (
	"math/rand/v2"
	"sync/atomic"
)

// Selector picks one upstream of ups for r, or nil when none can take it.
// Every policy asks r.eligible, which folds in Upstream.Available, the
// attempts already made and what is known about the requested model.
// Backups get their own Selector: the pool asks it only when the primaries'
// one returns nil.
type Selector interface {
	Select(ups []*Upstream, r *request, now int64) *Upstream
}

func newSelector(cfg *Config, ups []*Upstream) Selector {
	switch cfg.Policy {
	case "round_robin":
		return newWeightedRoundRobin(ups)
	case "least_outstanding":
		return leastOutstanding{}
	}
	return &modelAware{}
}

// eligible returns u's tier for r's model (2 loaded, 1 on disk, 0 unknown),
// or -1 when u cannot take r.
func (r *request) eligible(u *Upstream, now int64) int {
	for i := 0; i < r.nTried; i++ {
		if r.tried[i] == u {
			return -1
		}
	}
	if !u.Available(now) {
		return -1
	}
	if r.model == "" {
		return 0
	}
	return u.models.Load().tier(r.model)
}

// load is u's outstanding requests per unit of weight, scaled to stay in
// integers.
func load(u *Upstream) int64 { return (u.inFlight.Load() + 1) * 1000 / int64(u.cfg.Weight) }

// modelAware is the default: instances that have the model loaded, then
// those that have it on disk, then ones we know nothing about; within the
// best tier the least loaded (per weight), ties broken by a rotating start
// so equal instances share. With affinity, the best tier is chosen by
// rendezvous hashing instead, so a session sticks to one instance while it
// stays in that tier.
type modelAware struct{ next atomic.Uint32 }

func (s *modelAware) Select(ups []*Upstream, r *request, now int64) *Upstream {
	n := len(ups)
	if n == 0 {
		return nil
	}
	start := int(s.next.Add(1)) % n
	var best *Upstream
	bestTier, bestLoad := -1, int64(0)
	var bestHash uint64
	for i := 0; i < n; i++ {
		u := ups[(start+i)%n]
		t := r.eligible(u, now)
		if t < 0 || t < bestTier {
			continue
		}
		if r.hasAffinity {
			h := rendezvous(r.affinity, u)
			if t > bestTier || h > bestHash {
				best, bestTier, bestHash = u, t, h
			}
			continue
		}
		l := load(u)
		if t > bestTier || l < bestLoad {
			best, bestTier, bestLoad = u, t, l
		}
	}
	return best
}

// rendezvous scores u for an affinity key (highest random weight hashing):
// removing an instance moves only its own keys.
func rendezvous(key uint64, u *Upstream) uint64 {
	h := u.hashSeed ^ key
	// splitmix64 finaliser: a cheap, well-mixed 64-bit hash.
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// leastOutstanding is power of two choices: two random eligible instances,
// the less loaded (per weight) wins. It avoids the herd that a global
// "least busy" causes when many requests decide at once.
type leastOutstanding struct{}

func (leastOutstanding) Select(ups []*Upstream, r *request, now int64) *Upstream {
	n := len(ups)
	if n == 0 {
		return nil
	}
	var a, b *Upstream
	// A few random probes, then a scan so an almost-empty pool still works.
	for i := 0; i < 4 && b == nil; i++ {
		u := ups[rand.IntN(n)]
		if u == a || r.eligible(u, now) < 0 {
			continue
		}
		if a == nil {
			a = u
		} else {
			b = u
		}
	}
	if a == nil {
		start := rand.IntN(n)
		for i := 0; i < n; i++ {
			if u := ups[(start+i)%n]; r.eligible(u, now) >= 0 {
				return u
			}
		}
		return nil
	}
	if b == nil && n > 1 {
		// Probes kept hitting a: find any second candidate.
		start := rand.IntN(n)
		for i := 0; i < n && b == nil; i++ {
			if u := ups[(start+i)%n]; u != a && r.eligible(u, now) >= 0 {
				b = u
			}
		}
	}
	if b != nil && load(b) < load(a) {
		return b
	}
	return a
}

// weightedRoundRobin is nginx's smooth weighted round robin, precomputed into
// a schedule at pool build time so that picking is one atomic add: weights
// 5,1,1 give a a b a c a a, not a a a a a b c.
type weightedRoundRobin struct {
	schedule []int
	next     atomic.Uint64
}

func newWeightedRoundRobin(ups []*Upstream) *weightedRoundRobin {
	total := 0
	for _, u := range ups {
		total += u.cfg.Weight
	}
	s := &weightedRoundRobin{schedule: make([]int, 0, total)}
	cur := make([]int, len(ups))
	for k := 0; k < total; k++ {
		best := -1
		for i, u := range ups {
			cur[i] += u.cfg.Weight
			if best < 0 || cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= total
		s.schedule = append(s.schedule, best)
	}
	return s
}

func (s *weightedRoundRobin) Select(ups []*Upstream, r *request, now int64) *Upstream {
	n := len(s.schedule)
	if n == 0 || len(ups) == 0 {
		return nil
	}
	start := s.next.Add(1) - 1 // the first request goes to the schedule's start
	for i := 0; i < n; i++ {
		u := ups[s.schedule[(start+uint64(i))%uint64(n)]]
		if r.eligible(u, now) >= 0 {
			return u
		}
	}
	return nil
}

// fnv64a hashes affinity keys and upstream URLs. It is deterministic (no
// per-process seed) so that every bridge instance maps a session to the same
// upstream: affinity survives a client moving between bridges.
func fnv64a(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

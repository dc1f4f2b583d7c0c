package bridge

import "sync"

// flights coalesces identical cache misses: the first request for a key
// (the leader) goes upstream; the others (followers) wait for it and are
// answered with its stored answer, replayed whole once it is complete.
// Followers of a streamed request therefore get their first byte when the
// leader's stream ends, not token by token: the honest price of one upstream
// call instead of many. When the leader ends without a storable answer (an
// error, a cut stream, its client gone, an answer over max_entry_bytes) the
// followers each go upstream on their own.
type flights struct {
	mu sync.Mutex
	m  map[cacheKey]*flight
}

// flight is one leader's upstream call; entry is set before done closes.
type flight struct {
	done  chan struct{}
	entry *cacheEntry
}

// join returns the flight for k and whether the caller leads it.
func (f *flights) join(k cacheKey) (*flight, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fl, ok := f.m[k]; ok {
		return fl, false
	}
	if f.m == nil {
		f.m = map[cacheKey]*flight{}
	}
	fl := &flight{done: make(chan struct{})}
	f.m[k] = fl
	return fl, true
}

// land ends the leader's flight with its entry (nil: nothing to share).
func (f *flights) land(k cacheKey, fl *flight, e *cacheEntry) {
	f.mu.Lock()
	delete(f.m, k)
	f.mu.Unlock()
	fl.entry = e
	close(fl.done)
}

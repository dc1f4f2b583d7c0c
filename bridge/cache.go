package bridge

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"net/http"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// responseCache answers deterministic requests (cachekey.go) from two
// tiers: in-process (otter: W-TinyLFU admission and eviction, bounded in
// bytes, per-entry TTL) in front of an optional shared Redis (cache_redis.go)
// with the same TTL. A lookup tries memory, then Redis (a Redis hit is
// copied into memory for the rest of its Redis TTL); a store writes both.
// Identical misses in flight are coalesced (coalesce.go).
//
//	request ─▶ key? ──no──▶ X-Cache: BYPASS ─▶ upstream
//	             │yes
//	             ▼
//	   memory ─hit─▶ replay (X-Cache: HIT)
//	     │miss
//	   redis ──hit─▶ copy to memory, replay
//	     │miss / down
//	   in flight? ──yes─▶ wait for the leader ─▶ replay, or upstream alone
//	     │no: lead
//	   upstream (X-Cache: MISS), tee the answer ─▶ 200 and complete? store
type responseCache struct {
	cfg     CacheConfig
	mem     *otter.Cache[cacheKey, *cacheEntry]
	redis   *redisTier // nil: memory only
	flights flights
	m       *cacheMetrics
	log     *slog.Logger
}

// cacheEntry is an upstream's answer as it was sent: replaying these bytes
// is byte-correct in every protocol, streamed or not.
type cacheEntry struct {
	contentType string
	model       string // as the client that caused the store spelt it
	body        []byte
}

// entryOverhead approximates an entry's memory beyond its body (key, strings,
// otter's node), so that many tiny answers still count.
const entryOverhead = 256

func newResponseCache(cfg CacheConfig, reg prometheus.Registerer, clock func() time.Time, log *slog.Logger) (*responseCache, error) {
	c := &responseCache{cfg: cfg, log: log}
	var err error
	c.mem, err = otter.New(&otter.Options[cacheKey, *cacheEntry]{
		MaximumWeight: uint64(cfg.MemoryBytes),
		Weigher: func(_ cacheKey, e *cacheEntry) uint32 {
			return uint32(min(len(e.body)+len(e.contentType)+len(e.model)+entryOverhead, math.MaxUint32))
		},
		ExpiryCalculator: otter.ExpiryWriting[cacheKey, *cacheEntry](cfg.TTL),
		OnDeletion: func(ev otter.DeletionEvent[cacheKey, *cacheEntry]) {
			switch ev.Cause {
			case otter.CauseOverflow:
				c.m.evictSize.Inc()
			case otter.CauseExpiration:
				c.m.evictExpired.Inc()
			}
		},
	})
	if err != nil {
		return nil, err
	}
	c.m = newCacheMetrics(reg, func() float64 { return float64(c.mem.WeightedSize()) })
	if cfg.Backend != "memory" {
		if c.redis, err = newRedisTier(cfg, clock, log); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// close releases Redis connections and otter's goroutines.
func (c *responseCache) close() {
	if c.redis != nil {
		_ = c.redis.client.Close()
	}
	c.mem.StopAllGoroutines()
}

// lookup finds k in memory, then in Redis. A Redis failure is a miss.
func (c *responseCache) lookup(ctx context.Context, k cacheKey) *cacheEntry {
	if e, ok := c.mem.GetIfPresent(k); ok {
		c.m.memHit.Inc()
		return e
	}
	c.m.memMiss.Inc()
	if c.redis == nil || !c.redis.usable() {
		return nil
	}
	e, ttl, err := c.redis.get(ctx, k)
	switch {
	case err != nil:
		c.m.redisGetErr.Inc()
		c.log.Warn("cache: redis get failed; using the in-process tier", "error.message", err.Error(),
			"retry_in", c.cfg.RedisBackoff.String())
		return nil
	case e == nil:
		c.m.redisMiss.Inc()
		return nil
	}
	c.m.redisHit.Inc()
	if ttl > 0 {
		c.mem.Set(k, e)
		c.mem.SetExpiresAfter(k, ttl) // no longer than Redis keeps it
	}
	return e
}

// store keeps e in both tiers.
func (c *responseCache) store(k cacheKey, e *cacheEntry) {
	c.mem.Set(k, e)
	c.m.memStore.Inc()
	if c.redis == nil || !c.redis.usable() {
		return
	}
	if err := c.redis.set(k, e); err != nil {
		c.m.redisSetErr.Inc()
		c.log.Warn("cache: redis set failed; stored in the in-process tier only", "error.message", err.Error(),
			"retry_in", c.cfg.RedisBackoff.String())
		return
	}
	c.m.redisStore.Inc()
}

// capture tees a relayed answer for the cache, up to max bytes; ok once it
// ended complete with 200 and no error line (stream.go sets it).
type capture struct {
	buf         []byte
	max         int
	over        bool
	ok          bool
	contentType string
}

func (c *capture) add(b []byte) {
	if c.over {
		return
	}
	if len(c.buf)+len(b) > c.max {
		c.over, c.buf = true, nil
		return
	}
	c.buf = append(c.buf, b...)
}

// completeIfEnded completes a stream whose last message is its protocol's
// final one (SSE data: [DONE], or an NDJSON object with "done":true): the
// whole answer arrived even though the read did not reach EOF.
func (c *capture) completeIfEnded(contentType string, sse bool) {
	b := bytes.TrimRight(c.buf, "\r\n")
	if sse && bytes.HasSuffix(b, []byte("data: [DONE]")) ||
		!sse && bytes.Contains(b[bytes.LastIndexByte(b, '\n')+1:], []byte(`"done":true`)) {
		c.complete(contentType)
	}
}

func (c *capture) complete(contentType string) {
	if !c.over {
		c.ok, c.contentType = true, contentType
	}
}

// serveCached answers req from the cache, or leads or follows an identical
// request in flight. It returns false when the caller should forward req as
// usual (not cacheable, or the leader it followed had nothing to share).
func (h *Handler) serveCached(w http.ResponseWriter, r *http.Request, st *state, req *request, start time.Time) bool {
	c := h.cache
	tenant := req.tenant
	if tenant == "" && h.tenantOf != nil {
		tenant = h.tenantOf(r)
	}
	k, ok := cacheKeyFor(req.route, req.stream, req.model, tenant, req.body)
	if !ok || noCache(r) {
		c.m.bypass.Inc()
		w.Header().Set("X-Cache", "BYPASS")
		return false
	}
	if e := c.lookup(r.Context(), k); e != nil {
		h.serveHit(w, r, st, req, e, start)
		return true
	}
	fl, leader := c.flights.join(k)
	if !leader {
		select {
		case <-fl.done:
		case <-r.Context().Done():
			h.done(r, req, h.modelLabel(st, req), statusClientClosed, start, nil, 0, r.Context().Err(), 0)
			return true
		}
		if fl.entry == nil {
			w.Header().Set("X-Cache", "MISS")
			return false
		}
		c.m.coalesced.Inc()
		h.serveHit(w, r, st, req, fl.entry, start)
		return true
	}
	var stored *cacheEntry
	// Deferred: forward may end the handler with http.ErrAbortHandler, and
	// the followers must not wait forever.
	defer func() { c.flights.land(k, fl, stored) }()
	w.Header().Set("X-Cache", "MISS")
	req.capture = &capture{max: int(c.cfg.MaxEntryBytes)}
	st.budget.onRequest()
	h.call(w, r, st, req, start)
	if req.capture.ok {
		stored = &cacheEntry{contentType: req.capture.contentType, model: req.rawModel, body: req.capture.buf}
		c.store(k, stored)
	}
	return true
}

// serveHit replays e and records the request (no upstream, no attempt).
func (h *Handler) serveHit(w http.ResponseWriter, r *http.Request, st *state, req *request, e *cacheEntry, start time.Time) {
	w.Header().Set("X-Cache", "HIT")
	code := http.StatusOK
	err := replay(w, e, req.rawModel, req.stream)
	if err != nil {
		code = statusClientClosed
	}
	h.done(r, req, h.modelLabel(st, req), code, start, nil, 0, err, 0)
}

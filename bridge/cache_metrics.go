package bridge

import "github.com/prometheus/client_golang/prometheus"

// cacheMetrics are the cache's and the embedding batcher's series. Labels
// are fixed sets: tier (memory, redis), result, reason, op.
type cacheMetrics struct {
	memHit, memMiss, redisHit, redisMiss prometheus.Counter
	memStore, redisStore                 prometheus.Counter
	evictSize, evictExpired              prometheus.Counter
	coalesced, bypass                    prometheus.Counter
	redisGetErr, redisSetErr             prometheus.Counter
}

func newCacheMetrics(reg prometheus.Registerer, memBytes func() float64) *cacheMetrics {
	lookups := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bridge_cache_lookups_total",
		Help: "Cache lookups of cacheable requests, by tier (memory, redis) and result (hit, miss); a memory miss goes on to Redis when there is one."},
		[]string{"tier", "result"})
	stores := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bridge_cache_stores_total",
		Help: "Answers stored, by tier."}, []string{"tier"})
	evictions := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bridge_cache_evictions_total",
		Help: "Entries the in-process tier dropped, by reason (size: W-TinyLFU over memory_bytes; expired: past the TTL). Redis evicts by its own policy (INFO evicted_keys)."},
		[]string{"tier", "reason"})
	coalesced := prometheus.NewCounter(prometheus.CounterOpts{Name: "bridge_cache_coalesced_total",
		Help: "Requests answered with the answer of an identical request already in flight, without an upstream call of their own."})
	bypass := prometheus.NewCounter(prometheus.CounterOpts{Name: "bridge_cache_bypass_total",
		Help: "Requests on cacheable routes that were not cacheable (sampled, tools, Cache-Control: no-store/no-cache)."})
	redisErrs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bridge_cache_redis_errors_total",
		Help: "Redis commands that failed (the request went on with the in-process tier), by op (get, set)."}, []string{"op"})
	bytes := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "bridge_cache_memory_bytes",
		Help: "Bytes the in-process tier holds (bodies plus a fixed per-entry overhead)."}, memBytes)
	reg.MustRegister(lookups, stores, evictions, coalesced, bypass, redisErrs, bytes)
	return &cacheMetrics{
		memHit: lookups.WithLabelValues("memory", "hit"), memMiss: lookups.WithLabelValues("memory", "miss"),
		redisHit: lookups.WithLabelValues("redis", "hit"), redisMiss: lookups.WithLabelValues("redis", "miss"),
		memStore: stores.WithLabelValues("memory"), redisStore: stores.WithLabelValues("redis"),
		evictSize: evictions.WithLabelValues("memory", "size"), evictExpired: evictions.WithLabelValues("memory", "expired"),
		coalesced: coalesced, bypass: bypass,
		redisGetErr: redisErrs.WithLabelValues("get"), redisSetErr: redisErrs.WithLabelValues("set"),
	}
}

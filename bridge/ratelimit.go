package bridge

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// bucketLimit is one token bucket: perMinute refill, burst size.
type bucketLimit struct {
	perMinute int
	burst     int
}

// limiter keeps token buckets by key ("ip:…:requests", "cred:…:tokens").
type limiter interface {
	// take charges n to key's bucket if it can pay now; otherwise nothing
	// is charged and retryAfter says when it could. n above the burst is
	// charged as the burst (a request bigger than the bucket can still
	// pass, once, when the bucket is full).
	take(ctx context.Context, key string, l bucketLimit, n int) (ok bool, retryAfter time.Duration, err error)
	// adjust corrects a charge after the fact: n > 0 charges more whether
	// or not the bucket can pay, n < 0 gives back.
	adjust(ctx context.Context, key string, l bucketLimit, n int) error
}

// localLimiter is one bridge's buckets (golang.org/x/time/rate). Buckets
// that have refilled completely are forgotten once a minute: they hold no
// state a new bucket would not.
type localLimiter struct {
	clock     func() time.Time
	mu        sync.Mutex
	m         map[string]*rate.Limiter
	lastSweep time.Time
}

func newLocalLimiter(clock func() time.Time) *localLimiter {
	return &localLimiter{clock: clock, m: map[string]*rate.Limiter{}, lastSweep: clock()}
}

func (l *localLimiter) bucket(now time.Time, key string, bl bucketLimit) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) > time.Minute {
		l.lastSweep = now
		for k, b := range l.m {
			if b.TokensAt(now) >= float64(b.Burst()) {
				delete(l.m, k)
			}
		}
	}
	lim := rate.Limit(float64(bl.perMinute) / 60)
	b := l.m[key]
	if b == nil {
		b = rate.NewLimiter(lim, bl.burst)
		l.m[key] = b
	} else if b.Limit() != lim || b.Burst() != bl.burst {
		b.SetLimitAt(now, lim)
		b.SetBurstAt(now, bl.burst)
	}
	return b
}

func (l *localLimiter) take(_ context.Context, key string, bl bucketLimit, n int) (bool, time.Duration, error) {
	now := l.clock()
	b := l.bucket(now, key, bl)
	r := b.ReserveN(now, min(n, bl.burst))
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now) // not taken: give the reservation back
		return false, d, nil
	}
	return true, 0, nil
}

// adjust charges in steps of at most the burst (a reservation may not be
// larger), leaving the bucket in debt: the next request waits it off. A
// negative reservation gives tokens back, up to a full bucket
// (TestLocalLimiterRefund pins this behaviour of x/time/rate).
func (l *localLimiter) adjust(_ context.Context, key string, bl bucketLimit, n int) error {
	now := l.clock()
	b := l.bucket(now, key, bl)
	if n < 0 {
		b.ReserveN(now, n)
		return nil
	}
	for n > 0 {
		c := min(n, bl.burst)
		b.ReserveN(now, c)
		n -= c
	}
	return nil
}

// redisLimiter shares buckets between bridges: GCRA in Redis
// (go-redis/redis_rate), one round trip per check.
type redisLimiter struct {
	rl      *redis_rate.Limiter
	timeout time.Duration
}

func newRedisLimiter(url string, timeout time.Duration) (*redisLimiter, *redis.Client, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, nil, err
	}
	// A slow Redis must cost a request milliseconds, not seconds: short
	// time-outs, no retries (the fallback takes over instead).
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = timeout, timeout, timeout
	opt.MaxRetries = -1
	opt.PoolTimeout = timeout
	rdb := redis.NewClient(opt)
	return &redisLimiter{rl: redis_rate.NewLimiter(rdb), timeout: timeout}, rdb, nil
}

func (r *redisLimiter) limit(bl bucketLimit) redis_rate.Limit {
	return redis_rate.Limit{Rate: bl.perMinute, Burst: bl.burst, Period: time.Minute}
}

func (r *redisLimiter) take(ctx context.Context, key string, bl bucketLimit, n int) (bool, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	res, err := r.rl.AllowN(ctx, "dsbridge:"+key, r.limit(bl), min(n, bl.burst))
	if err != nil {
		return false, 0, err
	}
	return res.Allowed > 0, res.RetryAfter, nil
}

// adjust: GCRA in redis_rate cannot go into debt, so an overrun drains the
// bucket to empty (AllowAtMost); a refund is a negative cost, which
// redis_rate applies only while it leaves the bucket below full.
func (r *redisLimiter) adjust(ctx context.Context, key string, bl bucketLimit, n int) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	var err error
	if n < 0 {
		_, err = r.rl.AllowN(ctx, "dsbridge:"+key, r.limit(bl), n)
	} else if n > 0 {
		_, err = r.rl.AllowAtMost(ctx, "dsbridge:"+key, r.limit(bl), n)
	}
	return err
}

// errLimiterDown answers requests with 503 while Redis is unreachable and
// rate_limit.on_redis_error is "deny".
var errLimiterDown = errors.New("rate limiter unavailable (Redis down)")

// sharedLimiter uses Redis and, while Redis fails, what on_redis_error
// says: this bridge's own buckets ("local"), no limit ("allow"), or 503
// ("deny"). After a failure Redis is left alone for a second, so a dead
// Redis costs one time-out per second, not one per request.
type sharedLimiter struct {
	redis     *redisLimiter
	local     *localLimiter
	policy    string
	clock     func() time.Time
	downUntil atomic.Int64 // unix ns
	onError   func()
	log       *slog.Logger
}

func (s *sharedLimiter) up(now time.Time) bool { return now.UnixNano() >= s.downUntil.Load() }

func (s *sharedLimiter) failed(now time.Time, err error) {
	if s.downUntil.Swap(now.Add(time.Second).UnixNano()) < now.UnixNano()-int64(2*time.Second) {
		// Logged when Redis goes away, not once per request.
		s.log.Warn("rate limit: Redis unreachable, using on_redis_error", "on_redis_error", s.policy, "error.message", err.Error())
	}
	s.onError()
}

func (s *sharedLimiter) take(ctx context.Context, key string, bl bucketLimit, n int) (bool, time.Duration, error) {
	now := s.clock()
	if s.up(now) {
		ok, d, err := s.redis.take(ctx, key, bl, n)
		if err == nil {
			return ok, d, nil
		}
		if ctx.Err() != nil {
			return false, 0, ctx.Err()
		}
		s.failed(now, err)
	}
	switch s.policy {
	case "allow":
		return true, 0, nil
	case "deny":
		return false, time.Second, errLimiterDown
	}
	return s.local.take(ctx, key, bl, n)
}

func (s *sharedLimiter) adjust(ctx context.Context, key string, bl bucketLimit, n int) error {
	now := s.clock()
	if s.up(now) {
		err := s.redis.adjust(ctx, key, bl, n)
		if err == nil || ctx.Err() != nil {
			return err
		}
		s.failed(now, err)
	}
	if s.policy == "local" {
		return s.local.adjust(ctx, key, bl, n)
	}
	return nil
}

// retryAfterSeconds rounds up, at least 1 (Retry-After is whole seconds).
func retryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

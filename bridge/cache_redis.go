package bridge

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// redisTier is the shared tier: every bridge pointed at the same Redis sees
// what the others stored. It never fails a request: a command that errors
// (Redis down, slow, refusing) is counted, Redis is skipped for the back-off
// so a dead one costs one failed command per second rather than one per
// request, and the caller goes on with the in-process tier and the
// upstreams.
type redisTier struct {
	client  *redis.Client
	ttl     time.Duration
	timeout time.Duration
	backoff time.Duration
	skipTil atomic.Int64 // unix ns: Redis is not asked before this
	clock   func() time.Time
}

func newRedisTier(cfg CacheConfig, clock func() time.Time, log *slog.Logger) (*redisTier, error) {
	opt, err := redis.ParseURL(cfg.Backend)
	if err != nil {
		return nil, err
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = cfg.RedisTimeout, cfg.RedisTimeout, cfg.RedisTimeout
	opt.MaxRetries = -1   // one try: the request must not wait on a dead Redis
	opt.DialerRetries = 1 // nor on five dials to a port that refuses
	opt.DisableIdentity = true
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	// go-redis has one process-wide logger (plain text on stderr); its lines
	// go into the bridge's JSON log instead, at debug: each failure that
	// matters is already logged once per back-off by the cache.
	redis.SetLogger(redisLogger{log})
	return &redisTier{client: redis.NewClient(opt), ttl: cfg.TTL, timeout: cfg.RedisTimeout, backoff: cfg.RedisBackoff, clock: clock}, nil
}

func redisKey(k cacheKey) string {
	const hexdigits = "0123456789abcdef"
	b := make([]byte, 0, len("dsbridge:cache:")+2*len(k))
	b = append(b, "dsbridge:cache:"...)
	for _, c := range k {
		b = append(b, hexdigits[c>>4], hexdigits[c&15])
	}
	return string(b)
}

// usable reports whether Redis may be asked now (not in a back-off).
func (t *redisTier) usable() bool { return t.clock().UnixNano() >= t.skipTil.Load() }

func (t *redisTier) failed() { t.skipTil.Store(t.clock().Add(t.backoff).UnixNano()) }

// get returns the entry and how long Redis keeps it, nil on a miss, or an
// error (counted by the caller). GET and PTTL go in one round trip.
func (t *redisTier) get(ctx context.Context, k cacheKey) (*cacheEntry, time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.timeout)
	defer cancel()
	key := redisKey(k)
	pipe := t.client.Pipeline()
	get := pipe.Get(ctx, key)
	pttl := pipe.PTTL(ctx, key)
	_, err := pipe.Exec(ctx)
	if errors.Is(err, redis.Nil) {
		return nil, 0, nil
	}
	if err != nil {
		t.failed()
		return nil, 0, err
	}
	e, ok := decodeEntry([]byte(get.Val()))
	if !ok {
		return nil, 0, nil // written by another version: a miss, overwritten later
	}
	return e, pttl.Val(), nil
}

func (t *redisTier) set(k cacheKey, e *cacheEntry) error {
	ctx, cancel := context.WithTimeout(context.Background(), t.timeout)
	defer cancel()
	if err := t.client.Set(ctx, redisKey(k), encodeEntry(e), t.ttl).Err(); err != nil {
		t.failed()
		return err
	}
	return nil
}

// redisLogger routes go-redis's messages to slog.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

// entryMagic versions the stored format.
const entryMagic = "dsb1"

// encodeEntry is magic, then content type and model length-prefixed, then
// the body as is.
func encodeEntry(e *cacheEntry) []byte {
	b := make([]byte, 0, len(entryMagic)+2*binary.MaxVarintLen64+len(e.contentType)+len(e.model)+len(e.body))
	b = append(b, entryMagic...)
	b = binary.AppendUvarint(b, uint64(len(e.contentType)))
	b = append(b, e.contentType...)
	b = binary.AppendUvarint(b, uint64(len(e.model)))
	b = append(b, e.model...)
	return append(b, e.body...)
}

func decodeEntry(b []byte) (*cacheEntry, bool) {
	if len(b) < len(entryMagic) || string(b[:len(entryMagic)]) != entryMagic {
		return nil, false
	}
	b = b[len(entryMagic):]
	var parts [2]string
	for i := range parts {
		n, w := binary.Uvarint(b)
		if w <= 0 || n > uint64(len(b)-w) {
			return nil, false
		}
		parts[i] = string(b[w : w+int(n)])
		b = b[w+int(n):]
	}
	return &cacheEntry{contentType: parts[0], model: parts[1], body: b}, true
}

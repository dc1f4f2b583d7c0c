package bridge

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"
)

// CacheConfig is the response cache (cache.go). Off unless Backend is set;
// read at start-up only, not on reload.
type CacheConfig struct {
	// Backend is "" (off), "memory" (in-process only) or
	// "redis://HOST:PORT[/DB]" (in-process in front of a shared Redis).
	Backend string `yaml:"backend"`
	// TTL is how long an answer is served from the cache (the seed's 5 min).
	TTL time.Duration `yaml:"ttl"`
	// MemoryBytes bounds the in-process tier (W-TinyLFU evicts past it).
	MemoryBytes int64 `yaml:"memory_bytes"`
	// MaxEntryBytes: larger answers are passed on but not stored.
	MaxEntryBytes int64 `yaml:"max_entry_bytes"`
	// RedisTimeout bounds each Redis command; a failure skips Redis for
	// RedisBackoff and the request goes on with the in-process tier.
	RedisTimeout time.Duration `yaml:"redis_timeout"`
	RedisBackoff time.Duration `yaml:"redis_backoff"`
}

// BatchConfig merges concurrent embedding requests (batch.go). Off while
// MaxWait is 0.
type BatchConfig struct {
	// MaxWait is how long the first request of a batch waits for others.
	MaxWait time.Duration `yaml:"max_wait"`
	// MaxInputs closes a batch early once it holds this many inputs.
	MaxInputs int `yaml:"max_inputs"`
}

func defaultCacheConfig() CacheConfig {
	return CacheConfig{TTL: 5 * time.Minute, MemoryBytes: 64 << 20, MaxEntryBytes: 1 << 20,
		RedisTimeout: 250 * time.Millisecond, RedisBackoff: time.Second}
}

func defaultBatchConfig() BatchConfig { return BatchConfig{MaxWait: 0, MaxInputs: 256} }

// ParseCacheFlag checks a --cache value: memory or redis://HOST:PORT[/DB].
func ParseCacheFlag(s string) (string, error) {
	c := CacheConfig{Backend: s}
	return s, c.validateBackend()
}

func (c CacheConfig) validateBackend() error {
	if c.Backend == "" || c.Backend == "memory" {
		return nil
	}
	u, err := url.Parse(c.Backend)
	if err == nil && u.Scheme == "redis" && u.Host != "" {
		_, err = redis.ParseURL(c.Backend)
	} else if err == nil {
		err = errors.New("want memory or redis://HOST:PORT")
	}
	if err != nil {
		return fmt.Errorf("cache.backend %q: %w", c.Backend, err)
	}
	return nil
}

func (c CacheConfig) validate() error {
	var errs []error
	if err := c.validateBackend(); err != nil {
		errs = append(errs, err)
	}
	if c.Backend != "" {
		if c.TTL <= 0 || c.RedisTimeout <= 0 || c.RedisBackoff < 0 {
			errs = append(errs, errors.New("cache.ttl and cache.redis_timeout: want > 0; cache.redis_backoff: want >= 0"))
		}
		if c.MemoryBytes < 1 || c.MaxEntryBytes < 1 || c.MaxEntryBytes > c.MemoryBytes {
			errs = append(errs, errors.New("cache.memory_bytes and cache.max_entry_bytes: want 1 <= max_entry_bytes <= memory_bytes"))
		}
	}
	return errors.Join(errs...)
}

func (c BatchConfig) validate() error {
	if c.MaxWait < 0 || c.MaxWait > time.Second {
		return fmt.Errorf("batch.max_wait %v: want 0 (off) .. 1s", c.MaxWait)
	}
	if c.MaxInputs < 1 {
		return fmt.Errorf("batch.max_inputs %d: want >= 1", c.MaxInputs)
	}
	return nil
}

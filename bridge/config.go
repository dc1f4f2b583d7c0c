package bridge

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is everything `dsbridge serve` can be told. The YAML file holds all
// of it; command-line flags override single keys. A zero value means "use the
// default" for every field, so DefaultConfig().Merge-free loading works: Load
// fills defaults first and decodes the file on top.
type Config struct {
	Listen     string `yaml:"listen"`
	InstanceID string `yaml:"instance_id"`
	// Policy picks an upstream: "model-aware" (default), "round_robin"
	// (smooth weighted) or "least_outstanding" (power of two choices).
	Policy    string           `yaml:"policy"`
	Affinity  AffinityConfig   `yaml:"affinity"`
	Upstreams []UpstreamConfig `yaml:"upstreams"`
	// UpstreamsDNS adds the upstreams a DNS name resolves to (discovery.go).
	UpstreamsDNS DNSDiscoveryConfig `yaml:"upstreams_dns"`
	Health       HealthConfig       `yaml:"health"`
	Passive      PassiveConfig      `yaml:"passive"`
	Breaker      BreakerConfig      `yaml:"breaker"`
	Timeouts     TimeoutConfig      `yaml:"timeouts"`
	Retry        RetryConfig        `yaml:"retry"`
	Server       ServerConfig       `yaml:"server"`
	// AdminToken enables the management calls (/api/pull, create, copy,
	// delete, push) and guards POST /admin/reload. Empty: management calls
	// are refused with 403 and reload is allowed from loopback only.
	AdminToken string    `yaml:"admin_token"`
	Log        LogConfig `yaml:"log"`
	// Pprof serves net/http/pprof under /debug/pprof/ on the listener. Off
	// by default: profiles expose internals.
	Pprof bool `yaml:"pprof"`
	// Cache and Batch spare the fleet (cache_config.go); both off by
	// default, read at start-up only.
	Cache CacheConfig `yaml:"cache"`
	Batch BatchConfig `yaml:"batch"`
	// The guard (guard_config.go): authentication, client addresses, rate
	// limits, request caps, TLS. Read at start-up only.
	Auth      AuthConfig      `yaml:"auth"`
	ClientIP  ClientIPConfig  `yaml:"client_ip"`
	RateLimit RateLimitConfig `yaml:"rate_limit"`
	Caps      RequestCaps     `yaml:"limits"`
	TLS       TLSConfig       `yaml:"tls"`
}

// UpstreamConfig is one Ollama instance.
type UpstreamConfig struct {
	URL string `yaml:"url"`
	// Weight scales the instance's share of traffic (default 1).
	Weight int `yaml:"weight"`
	// Backup instances get traffic only when no primary is available.
	Backup bool `yaml:"backup"`
	// MaxInFlight caps concurrent requests to this instance; 0 is no cap.
	// Ollama's own queue is not reliable back-pressure (ollama#7758).
	MaxInFlight int `yaml:"max_in_flight"`
}

// AffinityConfig sends related requests to the same instance so that its KV
// cache is reused. Both off by default.
type AffinityConfig struct {
	// Header names a request header (e.g. X-Session-ID) whose value is hashed.
	Header string `yaml:"header"`
	// PromptPrefixBytes > 0 hashes that many leading bytes of the request body
	// after the model key when no header value is present.
	PromptPrefixBytes int `yaml:"prompt_prefix_bytes"`
}

// HealthConfig is the active health check: GET /api/ps every Interval.
type HealthConfig struct {
	Interval time.Duration `yaml:"interval"`
	Timeout  time.Duration `yaml:"timeout"`
	// UnhealthyAfter consecutive failed checks take an instance out;
	// HealthyAfter consecutive good ones bring it back.
	UnhealthyAfter int `yaml:"unhealthy_after"`
	HealthyAfter   int `yaml:"healthy_after"`
	// ModelsInterval is how often /api/tags (models on disk) is polled; a
	// request for a model nobody has also triggers a poll.
	ModelsInterval time.Duration `yaml:"models_interval"`
}

// PassiveConfig has nginx's semantics: MaxFails failures within FailTimeout
// take the instance out for FailTimeout.
type PassiveConfig struct {
	MaxFails    int           `yaml:"max_fails"`
	FailTimeout time.Duration `yaml:"fail_timeout"`
}

// BreakerConfig: Failures consecutive failures open the breaker for OpenFor,
// then HalfOpenRequests probes decide.
type BreakerConfig struct {
	Failures         int           `yaml:"failures"`
	OpenFor          time.Duration `yaml:"open_for"`
	HalfOpenRequests int           `yaml:"half_open_requests"`
}

// TimeoutConfig is sized for LLMs: no total time-out on a response that keeps
// producing.
type TimeoutConfig struct {
	Dial time.Duration `yaml:"dial"`
	// FirstByte bounds the wait for the first body byte of a streamed
	// response (queueing plus a cold load); the attempt is retried elsewhere.
	FirstByte time.Duration `yaml:"first_byte"`
	// Idle bounds the silence between two chunks of a response.
	Idle time.Duration `yaml:"idle"`
	// Write bounds each write of a response to its client: a client that
	// stops reading is cut after it, so it cannot hold an upstream
	// connection and slot forever (nginx's send_timeout).
	Write time.Duration `yaml:"write"`
}

// RetryConfig bounds retries.
type RetryConfig struct {
	// MaxAttempts per request, the first included.
	MaxAttempts int `yaml:"max_attempts"`
	// BudgetRatio: retries may add at most this fraction of requests, plus
	// BudgetMin in reserve, so retries cannot multiply an overload.
	BudgetRatio float64 `yaml:"budget_ratio"`
	BudgetMin   int     `yaml:"budget_min"`
}

// ServerConfig is the client-facing HTTP server.
type ServerConfig struct {
	// ReadHeaderTimeout and ReadBodyTimeout defeat slowloris clients.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	ReadBodyTimeout   time.Duration `yaml:"read_body_timeout"`
	IdleTimeout       time.Duration `yaml:"idle_timeout"`
	// MaxBodyBytes larger request bodies get 413.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// Grace is how long in-flight requests may run after SIGTERM.
	Grace time.Duration `yaml:"grace"`
	// DrainDelay keeps serving (while /ready says 503) before the listener
	// closes, so a load balancer notices first. Default 0.
	DrainDelay time.Duration `yaml:"drain_delay"`
	// Engine is the HTTP/1.1 server: "fast" (default: the bridge's own loop
	// for plain requests, net/http for the rest; fastserver.go) or
	// "net/http" (net/http for everything). Read at start-up only.
	Engine string `yaml:"engine"`
}

// LogConfig: Level is debug|info|warn|error. Access is "errors" (default:
// only failed, retried or non-2xx requests are logged), "all" or "none".
type LogConfig struct {
	Level  string `yaml:"level"`
	Access string `yaml:"access"`
	// Elasticsearch also ships every line to Elasticsearch (logsink.go);
	// off unless url is set. Read at start-up only, not on reload.
	Elasticsearch LogElasticsearchConfig `yaml:"elasticsearch"`
}

// DefaultConfig is what the bridge does with no file and no flags
// (DESIGN.md "Defaults").
func DefaultConfig() Config {
	c := Config{
		Listen:       "127.0.0.1:11434",
		Policy:       "model-aware",
		UpstreamsDNS: defaultDNSDiscovery(),
		// Health: three misses in a row, each given a full second, so a slow
		// answer on a loaded machine is not taken for a hang, while a hung
		// instance is still out within about 3 s (checks run back to back
		// once they time out).
		Health: HealthConfig{Interval: 500 * time.Millisecond, Timeout: time.Second, UnhealthyAfter: 3, HealthyAfter: 1,
			ModelsInterval: 5 * time.Second},
		Passive: PassiveConfig{MaxFails: 2, FailTimeout: 30 * time.Second},
		Breaker: BreakerConfig{Failures: 5, OpenFor: 30 * time.Second, HalfOpenRequests: 1},
		Timeouts: TimeoutConfig{Dial: 2 * time.Second, FirstByte: 120 * time.Second, Idle: 60 * time.Second,
			Write: 60 * time.Second},
		Retry: RetryConfig{MaxAttempts: 3, BudgetRatio: 0.2, BudgetMin: 10},
		Server: ServerConfig{ReadHeaderTimeout: 10 * time.Second, ReadBodyTimeout: 60 * time.Second,
			IdleTimeout: 120 * time.Second, MaxBodyBytes: 16 << 20, Grace: 30 * time.Second, Engine: "fast"},
		Log: LogConfig{Level: "info", Access: "errors", Elasticsearch: LogElasticsearchConfig{IndexPrefix: "dsbridge-logs",
			Buffer: 10000, FlushInterval: time.Second}},
		Cache: defaultCacheConfig(),
		Batch: defaultBatchConfig(),
	}
	defaultGuard(&c)
	return c
}

// LoadConfig reads a YAML file on top of the defaults. Unknown keys are an
// error: a typo must not silently keep a default.
func LoadConfig(path string) (Config, error) {
	cfg := DefaultConfig()
	if path == "" {
		return cfg, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return cfg, err
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) /* an empty file */ {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// ParseUpstreamFlag reads one --upstream value: URL[,weight=N][,backup][,max_in_flight=N].
func ParseUpstreamFlag(s string) (UpstreamConfig, error) {
	parts := strings.Split(s, ",")
	u := UpstreamConfig{URL: strings.TrimSpace(parts[0])}
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch k {
		case "backup":
			u.Backup = v == "" || v == "true"
		case "weight", "max_in_flight":
			n, err := strconv.Atoi(v)
			if err != nil {
				return u, fmt.Errorf("upstream %q: %s: %w", s, k, err)
			}
			if k == "weight" {
				u.Weight = n
			} else {
				u.MaxInFlight = n
			}
		default:
			return u, fmt.Errorf("upstream %q: unknown option %q", s, k)
		}
	}
	return u, nil
}

// Validate fills per-upstream defaults and rejects what cannot work, with a
// message that names the key.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Upstreams) == 0 && !c.UpstreamsDNS.enabled() {
		errs = append(errs, errors.New("upstreams: at least one is required (or upstreams_dns)"))
	}
	if err := c.UpstreamsDNS.validate(); err != nil {
		errs = append(errs, err)
	}
	seen := map[string]bool{}
	for i := range c.Upstreams {
		u := &c.Upstreams[i]
		pu, err := url.Parse(u.URL)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			errs = append(errs, fmt.Errorf("upstreams[%d].url %q: want http://host:port", i, u.URL))
			continue
		}
		u.URL = strings.TrimRight(pu.Scheme+"://"+pu.Host+pu.Path, "/")
		if seen[u.URL] {
			errs = append(errs, fmt.Errorf("upstreams[%d].url %q: listed twice", i, u.URL))
		}
		seen[u.URL] = true
		if u.Weight == 0 {
			u.Weight = 1
		}
		if u.Weight < 0 || u.Weight > 1000 {
			errs = append(errs, fmt.Errorf("upstreams[%d].weight %d: want 1..1000", i, u.Weight))
		}
		if u.MaxInFlight < 0 {
			errs = append(errs, fmt.Errorf("upstreams[%d].max_in_flight %d: want >= 0", i, u.MaxInFlight))
		}
	}
	switch c.Policy {
	case "model-aware", "round_robin", "least_outstanding":
	default:
		errs = append(errs, fmt.Errorf("policy %q: want model-aware, round_robin or least_outstanding", c.Policy))
	}
	pos := func(name string, d time.Duration) {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s %v: want > 0", name, d))
		}
	}
	pos("health.interval", c.Health.Interval)
	pos("health.timeout", c.Health.Timeout)
	pos("health.models_interval", c.Health.ModelsInterval)
	pos("passive.fail_timeout", c.Passive.FailTimeout)
	pos("breaker.open_for", c.Breaker.OpenFor)
	pos("timeouts.dial", c.Timeouts.Dial)
	pos("timeouts.first_byte", c.Timeouts.FirstByte)
	pos("timeouts.idle", c.Timeouts.Idle)
	pos("timeouts.write", c.Timeouts.Write)
	pos("server.read_header_timeout", c.Server.ReadHeaderTimeout)
	pos("server.read_body_timeout", c.Server.ReadBodyTimeout)
	pos("server.idle_timeout", c.Server.IdleTimeout)
	pos("server.grace", c.Server.Grace)
	if c.Health.UnhealthyAfter < 1 || c.Health.HealthyAfter < 1 {
		errs = append(errs, errors.New("health.unhealthy_after and health.healthy_after: want >= 1"))
	}
	if c.Passive.MaxFails < 0 {
		errs = append(errs, errors.New("passive.max_fails: want >= 0 (0 turns passive checks off)"))
	}
	if c.Breaker.Failures < 1 || c.Breaker.HalfOpenRequests < 1 {
		errs = append(errs, errors.New("breaker.failures and breaker.half_open_requests: want >= 1"))
	}
	if c.Retry.MaxAttempts < 1 {
		errs = append(errs, errors.New("retry.max_attempts: want >= 1"))
	}
	if c.Retry.BudgetRatio < 0 || c.Retry.BudgetMin < 0 {
		errs = append(errs, errors.New("retry.budget_ratio and retry.budget_min: want >= 0"))
	}
	if c.Server.MaxBodyBytes < 1 {
		errs = append(errs, errors.New("server.max_body_bytes: want >= 1"))
	}
	if c.Server.DrainDelay < 0 {
		errs = append(errs, errors.New("server.drain_delay: want >= 0"))
	}
	switch c.Server.Engine {
	case "fast", "net/http":
	default:
		errs = append(errs, fmt.Errorf("server.engine %q: want fast or net/http", c.Server.Engine))
	}
	switch c.Log.Access {
	case "errors", "all", "none":
	default:
		errs = append(errs, fmt.Errorf("log.access %q: want errors, all or none", c.Log.Access))
	}
	if _, err := parseLevel(c.Log.Level); err != nil {
		errs = append(errs, err)
	}
	if err := c.Log.Elasticsearch.validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Cache.validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Batch.validate(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.validateGuard()...)
	return errors.Join(errs...)
}

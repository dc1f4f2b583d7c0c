package bridge

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// AuthConfig turns authentication on when a JWT key, an API key file or
// both are set. Read at start-up; JWKS keys rotate by themselves.
type AuthConfig struct {
	JWT JWTConfig `yaml:"jwt"`
	// APIKeyFile is a YAML file of static keys (auth.go, apiKeyFile).
	APIKeyFile string `yaml:"api_key_file"`
}

// JWTConfig: every token is checked for its signature with Key, an
// algorithm in Algorithms, exp (required), nbf, aud and iss.
type JWTConfig struct {
	// Key is a file holding a PEM public key (RSA, ECDSA, Ed25519) or an
	// HMAC secret (at least 32 bytes), or an http(s) URL of a JWKS.
	Key string `yaml:"key"`
	// Algorithms accepted; empty: the one the key implies (HS256, RS256,
	// ES256/384/512 by curve, EdDSA; RS256 for a JWKS).
	Algorithms []string      `yaml:"algorithms"`
	Audience   string        `yaml:"audience"`
	Issuer     string        `yaml:"issuer"`
	Leeway     time.Duration `yaml:"leeway"`
	// MaxTokenBytes: longer tokens are refused before any parsing.
	MaxTokenBytes int `yaml:"max_token_bytes"`
	// AdminScope in the token's space-separated "scope" claim grants the
	// management calls.
	AdminScope string `yaml:"admin_scope"`
	// JWKSRefresh is the periodic re-fetch; JWKSMinInterval bounds
	// re-fetches caused by unknown kids, so they cannot cost one per request.
	JWKSRefresh     time.Duration `yaml:"jwks_refresh"`
	JWKSMinInterval time.Duration `yaml:"jwks_min_interval"`
}

// ClientIPConfig says who the client is and who may connect.
type ClientIPConfig struct {
	// AllowCIDRs: when not empty, only clients inside one of them are served
	// (403 otherwise), checked before any credential work.
	AllowCIDRs []string `yaml:"allow_cidrs"`
	// TrustedProxies: peers in these ranges are believed about
	// X-Forwarded-For, which is walked from the right past them.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// RateLimitConfig: token buckets per client IP and per credential, by
// requests and by LLM tokens. Off unless Enabled.
type RateLimitConfig struct {
	Enabled       bool       `yaml:"enabled"`
	PerIP         BucketPair `yaml:"per_ip"`
	PerCredential BucketPair `yaml:"per_credential"`
	// EstimateTokens is charged up front for a request that sets no
	// num_predict / max_tokens; the answer's counts correct it.
	EstimateTokens int `yaml:"estimate_tokens"`
	// Redis (redis://host:port[/db]) shares the buckets between bridges;
	// empty: in-process.
	Redis string `yaml:"redis"`
	// RedisTimeout bounds one Redis call.
	RedisTimeout time.Duration `yaml:"redis_timeout"`
	// OnRedisError: "local" (default: this bridge's in-process buckets
	// until Redis answers again), "allow" (no limit) or "deny" (503).
	OnRedisError string `yaml:"on_redis_error"`
}

// BucketPair is a request bucket and a token bucket. A zero rate is off.
type BucketPair struct {
	RequestsPerMinute int `yaml:"requests_per_minute"`
	// Burst is the request bucket's size; 0: RequestsPerMinute/5.
	Burst           int `yaml:"burst"`
	TokensPerMinute int `yaml:"tokens_per_minute"`
}

// RequestCaps bound what one request may ask for; 0 is no cap.
type RequestCaps struct {
	MaxNumPredict  int `yaml:"max_num_predict"`
	MaxPromptBytes int `yaml:"max_prompt_bytes"`
}

// TLSConfig serves HTTPS on the listener when Cert and Key are set.
type TLSConfig struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// HSTSMaxAge is sent as Strict-Transport-Security on HTTPS answers.
	HSTSMaxAge time.Duration `yaml:"hsts_max_age"`
}

// defaultGuard are the guard's defaults (DESIGN.md "Defaults": 1000
// requests/min per IP, burst 200, when rate limiting is on).
func defaultGuard(c *Config) {
	c.Auth.JWT.Leeway = 30 * time.Second
	c.Auth.JWT.MaxTokenBytes = 8 << 10
	c.Auth.JWT.AdminScope = "admin"
	c.Auth.JWT.JWKSRefresh = 5 * time.Minute
	c.Auth.JWT.JWKSMinInterval = 10 * time.Second
	c.RateLimit.PerIP = BucketPair{RequestsPerMinute: 1000, Burst: 200}
	c.RateLimit.EstimateTokens = 256
	c.RateLimit.RedisTimeout = 100 * time.Millisecond
	c.RateLimit.OnRedisError = "local"
	c.TLS.HSTSMaxAge = 2 * 365 * 24 * time.Hour // Mozilla's recommendation
}

// ParseRateFlag reads --rate-limit's "N/min" (also "N/s", "N/h").
func ParseRateFlag(s string) (int, error) {
	n, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	v, err := strconv.Atoi(n)
	if !ok || err != nil || v < 1 {
		return 0, fmt.Errorf("rate %q: want N/min", s)
	}
	switch unit {
	case "min", "m":
		return v, nil
	case "s", "sec":
		return v * 60, nil
	case "h", "hour":
		if v < 60 {
			return 0, fmt.Errorf("rate %q: below 1/min", s)
		}
		return v / 60, nil
	}
	return 0, fmt.Errorf("rate %q: want N/min", s)
}

// validateGuard checks the guard's keys; files are read later (newGuard).
func (c *Config) validateGuard() []error {
	var errs []error
	j := &c.Auth.JWT
	if j.Key != "" {
		if j.Audience == "" || j.Issuer == "" {
			errs = append(errs, errors.New("auth.jwt.audience and auth.jwt.issuer: required with auth.jwt.key (tokens for another service must not pass)"))
		}
		for _, a := range j.Algorithms {
			if !knownAlg(a) {
				errs = append(errs, fmt.Errorf("auth.jwt.algorithms %q: want one of HS256 HS384 HS512 RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA", a))
			}
		}
		if j.Leeway < 0 || j.Leeway > 5*time.Minute {
			errs = append(errs, fmt.Errorf("auth.jwt.leeway %v: want 0..5m", j.Leeway))
		}
		if j.MaxTokenBytes < 256 {
			errs = append(errs, errors.New("auth.jwt.max_token_bytes: want >= 256"))
		}
		if j.JWKSRefresh <= 0 || j.JWKSMinInterval <= 0 {
			errs = append(errs, errors.New("auth.jwt.jwks_refresh and auth.jwt.jwks_min_interval: want > 0"))
		}
	}
	for _, p := range [][]string{c.ClientIP.AllowCIDRs, c.ClientIP.TrustedProxies} {
		if _, err := parsePrefixes(p); err != nil {
			errs = append(errs, err)
		}
	}
	rl := &c.RateLimit
	for name, b := range map[string]BucketPair{"per_ip": rl.PerIP, "per_credential": rl.PerCredential} {
		if b.RequestsPerMinute < 0 || b.Burst < 0 || b.TokensPerMinute < 0 {
			errs = append(errs, fmt.Errorf("rate_limit.%s: want values >= 0", name))
		}
	}
	if rl.EstimateTokens < 0 {
		errs = append(errs, errors.New("rate_limit.estimate_tokens: want >= 0"))
	}
	switch rl.OnRedisError {
	case "local", "allow", "deny":
	default:
		errs = append(errs, fmt.Errorf("rate_limit.on_redis_error %q: want local, allow or deny", rl.OnRedisError))
	}
	if rl.Redis != "" && rl.RedisTimeout <= 0 {
		errs = append(errs, errors.New("rate_limit.redis_timeout: want > 0"))
	}
	if c.Caps.MaxNumPredict < 0 || c.Caps.MaxPromptBytes < 0 {
		errs = append(errs, errors.New("limits.max_num_predict and limits.max_prompt_bytes: want >= 0"))
	}
	if (c.TLS.Cert == "") != (c.TLS.Key == "") {
		errs = append(errs, errors.New("tls.cert and tls.key: set both or neither"))
	}
	return errs
}

// parsePrefixes reads CIDRs; a bare address is its own /32 or /128.
func parsePrefixes(ss []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(ss))
	for _, s := range ss {
		s = strings.TrimSpace(s)
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("CIDR %q: %w", s, err)
			}
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("CIDR %q: %w", s, err)
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func knownAlg(a string) bool {
	switch a {
	case "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA":
		return true
	}
	return false
}

// guardOn says whether anything of the guard is configured: off, the hot
// path tests one nil pointer.
func (c *Config) guardOn() bool {
	return c.Auth.JWT.Key != "" || c.Auth.APIKeyFile != "" || len(c.ClientIP.AllowCIDRs) > 0 || len(c.ClientIP.TrustedProxies) > 0 ||
		c.RateLimit.Enabled || c.Caps.MaxNumPredict > 0 || c.Caps.MaxPromptBytes > 0
}

// guardChanged says whether a reload changed guard settings, which are
// read at start-up only.
func guardChanged(a, b *Config) bool {
	return !reflect.DeepEqual(a.Auth, b.Auth) || !reflect.DeepEqual(a.ClientIP, b.ClientIP) ||
		!reflect.DeepEqual(a.RateLimit, b.RateLimit) || a.Caps != b.Caps || a.TLS != b.TLS
}

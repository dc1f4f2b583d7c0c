package main

import (
	"flag"

	"github.com/dsbridge/dsbridge/bridge"
)

// guardFlags are serve's flags for authentication, client addresses, rate
// limits and TLS (DESIGN.md contracts). Each overrides one config key; the
// rest is in the config file.
type guardFlags struct {
	jwtKey, jwtAudience, jwtIssuer string
	jwtAlgs                        stringList
	apiKeyFile                     string
	allowCIDRs, trustedProxies     stringList
	rateLimit                      string
	rateBurst                      int
	tlsCert, tlsKey                string
}

func (g *guardFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&g.jwtKey, "jwt-key", "", "verify bearer JWTs with this PEM public key or HMAC secret file, or an http(s) JWKS URL (auth.jwt.key)")
	fs.Var(&g.jwtAlgs, "jwt-alg", "accepted JWT algorithm, e.g. RS256; repeatable (default: the one the key implies)")
	fs.StringVar(&g.jwtAudience, "jwt-audience", "", "required JWT aud (auth.jwt.audience)")
	fs.StringVar(&g.jwtIssuer, "jwt-issuer", "", "required JWT iss (auth.jwt.issuer)")
	fs.StringVar(&g.apiKeyFile, "api-key-file", "", "YAML file of static API keys (auth.api_key_file)")
	fs.Var(&g.allowCIDRs, "allow-cidr", "serve only clients in this CIDR; repeatable (client_ip.allow_cidrs)")
	fs.Var(&g.trustedProxies, "trusted-proxy", "believe X-Forwarded-For from peers in this CIDR; repeatable (client_ip.trusted_proxies)")
	fs.StringVar(&g.rateLimit, "rate-limit", "", "turn rate limiting on with N/min requests per client IP (seed: 1000/min)")
	fs.IntVar(&g.rateBurst, "rate-burst", 0, "per-IP request burst (rate_limit.per_ip.burst, default 200)")
	fs.StringVar(&g.tlsCert, "tls-cert", "", "serve HTTPS with this PEM certificate (chain) file; reloaded when it changes")
	fs.StringVar(&g.tlsKey, "tls-key", "", "the certificate's PEM private key file")
}

// apply sets the keys whose flags were given.
func (g *guardFlags) apply(cfg *bridge.Config) error {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&cfg.Auth.JWT.Key, g.jwtKey)
	set(&cfg.Auth.JWT.Audience, g.jwtAudience)
	set(&cfg.Auth.JWT.Issuer, g.jwtIssuer)
	set(&cfg.Auth.APIKeyFile, g.apiKeyFile)
	set(&cfg.TLS.Cert, g.tlsCert)
	set(&cfg.TLS.Key, g.tlsKey)
	if len(g.jwtAlgs) > 0 {
		cfg.Auth.JWT.Algorithms = g.jwtAlgs
	}
	if len(g.allowCIDRs) > 0 {
		cfg.ClientIP.AllowCIDRs = g.allowCIDRs
	}
	if len(g.trustedProxies) > 0 {
		cfg.ClientIP.TrustedProxies = g.trustedProxies
	}
	if g.rateLimit != "" {
		n, err := bridge.ParseRateFlag(g.rateLimit)
		if err != nil {
			return err
		}
		cfg.RateLimit.Enabled = true
		cfg.RateLimit.PerIP.RequestsPerMinute = n
	}
	if g.rateBurst > 0 {
		cfg.RateLimit.PerIP.Burst = g.rateBurst
	}
	return nil
}

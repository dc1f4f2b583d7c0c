package bridge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The guard is everything between a request's arrival and its proxying
// that decides whether it may go on, in this order (cheapest and least
// trusting first):
//
//	client address ─▶ allow-list (403) ─▶ credential (401) ─▶ admin right (403)
//	  ─▶ request buckets, IP then credential (429)          [before the body is read]
//	  ─▶ model allow-list (403) ─▶ caps (400) ─▶ token buckets (429)   [after the peek]
//	  ─▶ … proxied …  ─▶ token charge corrected from the answer's counts
//
// A refused request reaches no upstream. Off (nothing configured), the
// Handler's guard is nil and the hot path tests one pointer.
type guard struct {
	addrs clientAddrs
	auth  *authenticator // nil: no credentials asked for
	lim   limiter        // nil: no rate limiting
	rl    RateLimitConfig
	caps  RequestCaps
	m     *guardMetrics
}

// identity is who a request comes from, as far as the guard found out.
type identity struct {
	ip   netip.Addr
	cred *credential // nil when authentication is off
}

// tenant is the name limits and the cache key on: never the credential.
func (id identity) tenant() string {
	if id.cred == nil {
		return ""
	}
	return id.cred.tenant
}

// guardMetrics are registered whether or not the guard is on, so the
// series exist (at 0) for dashboards.
type guardMetrics struct {
	authRejections *prometheus.CounterVec
	rateLimited    *prometheus.CounterVec
	redisErrors    prometheus.Counter
	jwksFetches    *prometheus.CounterVec
	byReason       map[authReason]prometheus.Counter
}

func newGuardMetrics(reg prometheus.Registerer) *guardMetrics {
	m := &guardMetrics{
		authRejections: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bridge_auth_rejections_total",
			Help: "Requests refused by the guard before any upstream, by reason (missing, malformed, oversized, unknown_key, signature, algorithm, expired, not_yet_valid, audience, issuer, invalid, ip_not_allowed, model_not_allowed, not_admin)."},
			[]string{"reason"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bridge_rate_limited_total",
			Help: "Requests answered 429 by a rate limit, by scope (ip, credential) and kind (requests, tokens)."},
			[]string{"scope", "kind"}),
		redisErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "bridge_rate_limit_redis_errors_total",
			Help: "Rate-limit calls to Redis that failed (time-out, refused); rate_limit.on_redis_error decided instead."}),
		jwksFetches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bridge_jwks_fetches_total",
			Help: "Fetches of the JWKS URL by result (success, failure)."}, []string{"result"}),
		byReason: map[authReason]prometheus.Counter{},
	}
	for _, r := range authReasons {
		m.byReason[r] = m.authRejections.WithLabelValues(string(r))
	}
	for _, s := range []string{"ip", "credential"} {
		for _, k := range []string{"requests", "tokens"} {
			m.rateLimited.WithLabelValues(s, k)
		}
	}
	m.jwksFetches.WithLabelValues("success")
	m.jwksFetches.WithLabelValues("failure")
	reg.MustRegister(m.authRejections, m.rateLimited, m.redisErrors, m.jwksFetches)
	return m
}

// StartGuard builds the guard from cfg (reading key files, connecting to
// Redis lazily) and starts the JWKS refresher until ctx ends. Nothing
// configured: the guard stays nil.
func (h *Handler) StartGuard(ctx context.Context, cfg Config) error {
	if !cfg.guardOn() {
		return nil
	}
	g := &guard{rl: cfg.RateLimit, caps: cfg.Caps, m: h.gm}
	var err error
	if g.addrs.allow, err = parsePrefixes(cfg.ClientIP.AllowCIDRs); err != nil {
		return err
	}
	if g.addrs.trusted, err = parsePrefixes(cfg.ClientIP.TrustedProxies); err != nil {
		return err
	}
	if a := cfg.Auth; a.JWT.Key != "" || a.APIKeyFile != "" {
		g.auth = &authenticator{admin: []byte(cfg.AdminToken)}
		if a.APIKeyFile != "" {
			if g.auth.keys, err = loadAPIKeys(a.APIKeyFile); err != nil {
				return err
			}
		}
		if a.JWT.Key != "" {
			var keys *jwks
			if isURL(a.JWT.Key) {
				keys = newJWKS(a.JWT, h.client, h.clock, h.log, func(ok bool) {
					h.gm.jwksFetches.WithLabelValues(map[bool]string{true: "success", false: "failure"}[ok]).Inc()
				})
				go keys.run(ctx)
			}
			if g.auth.jwt, err = newJWTVerifier(a.JWT, keys); err != nil {
				return err
			}
		}
	}
	if cfg.RateLimit.Enabled {
		local := newLocalLimiter(h.clock)
		g.lim = local
		if cfg.RateLimit.Redis != "" {
			rl, rdb, err := newRedisLimiter(cfg.RateLimit.Redis, cfg.RateLimit.RedisTimeout)
			if err != nil {
				return fmt.Errorf("rate_limit.redis: %w", err)
			}
			context.AfterFunc(ctx, func() { _ = rdb.Close() })
			g.lim = &sharedLimiter{redis: rl, local: local, policy: cfg.RateLimit.OnRedisError, clock: h.clock,
				onError: h.gm.redisErrors.Inc, log: h.log}
		}
	}
	h.guard = g
	h.log.Info("guard on", "auth", g.auth != nil, "allow_cidrs", len(g.addrs.allow), "trusted_proxies", len(g.addrs.trusted),
		"rate_limit", cfg.RateLimit.Enabled, "redis", cfg.RateLimit.Redis != "")
	return nil
}

func isURL(s string) bool {
	return len(s) > 8 && (s[:7] == "http://" || s[:8] == "https://")
}

// guardReject is a refusal already written to the client.
type guardReject struct {
	code int
	err  error
}

// admit runs the checks that need no body. Health and readiness probes
// never come here. A refusal is written to w.
func (g *guard) admit(w http.ResponseWriter, r *http.Request, rt *route) (identity, *guardReject) {
	who := identity{ip: g.addrs.clientIP(r)}
	if !g.addrs.allowed(who.ip) {
		return who, g.refuse(w, rt, http.StatusForbidden, reasonIPDenied, "client address not allowed")
	}
	client := rt.clientTraffic() && rt.kind != kindRoot
	if g.auth != nil && client {
		cred, aerr := g.auth.authenticate(r)
		if aerr != nil {
			g.m.byReason[aerr.reason].Inc()
			challenge := `Bearer realm="dsbridge"`
			if aerr.reason != reasonMissing {
				challenge += `, error="invalid_token"` // RFC 6750 §3.1
			}
			w.Header().Set("WWW-Authenticate", challenge)
			writeError(w, rt.openai, http.StatusUnauthorized, "unauthorized: "+string(aerr.reason)+" credential")
			return who, &guardReject{http.StatusUnauthorized, aerr}
		}
		who.cred = cred
		// The credential is the bridge's business: upstreams never see it.
		r.Header.Del("Authorization")
		if rt.kind == kindManage && !cred.admin {
			return who, g.refuse(w, rt, http.StatusForbidden, reasonNotAdmin, "management calls need an admin credential")
		}
	}
	if g.lim != nil && client {
		if rj := g.takeRequest(w, r, rt, "ip", "ip:"+who.ip.String(), g.rl.PerIP); rj != nil {
			return who, rj
		}
		if who.cred != nil {
			if rj := g.takeRequest(w, r, rt, "credential", "cred:"+who.cred.tenant, g.credBuckets(who.cred)); rj != nil {
				return who, rj
			}
		}
	}
	return who, nil
}

func (g *guard) refuse(w http.ResponseWriter, rt *route, code int, reason authReason, msg string) *guardReject {
	g.m.byReason[reason].Inc()
	writeError(w, rt.openai, code, msg)
	return &guardReject{code, &authError{reason}}
}

// credBuckets are the credential's own sizes where its key sets them.
func (g *guard) credBuckets(c *credential) BucketPair {
	b := g.rl.PerCredential
	if c.limits.RequestsPerMinute > 0 {
		b.RequestsPerMinute, b.Burst = c.limits.RequestsPerMinute, c.limits.Burst
	}
	if c.limits.TokensPerMinute > 0 {
		b.TokensPerMinute = c.limits.TokensPerMinute
	}
	return b
}

func requestBucket(b BucketPair) bucketLimit {
	burst := b.Burst
	if burst == 0 {
		burst = max(1, b.RequestsPerMinute/5)
	}
	return bucketLimit{perMinute: b.RequestsPerMinute, burst: burst}
}

// tokenBucket holds a minute's worth of tokens.
func tokenBucket(b BucketPair) bucketLimit {
	return bucketLimit{perMinute: b.TokensPerMinute, burst: b.TokensPerMinute}
}

func (g *guard) takeRequest(w http.ResponseWriter, r *http.Request, rt *route, scope, key string, b BucketPair) *guardReject {
	if b.RequestsPerMinute == 0 {
		return nil
	}
	bl := requestBucket(b)
	return g.take(w, r, rt, scope, "requests", key+":requests", bl, 1)
}

// take charges n and writes the 429 (or the Redis-down 503) when refused.
func (g *guard) take(w http.ResponseWriter, r *http.Request, rt *route, scope, kind, key string, bl bucketLimit, n int) *guardReject {
	ok, retry, err := g.lim.take(r.Context(), key, bl, n)
	if err != nil {
		if errors.Is(err, errLimiterDown) {
			w.Header().Set("Retry-After", "1")
			writeError(w, rt.openai, http.StatusServiceUnavailable, err.Error())
			return &guardReject{http.StatusServiceUnavailable, err}
		}
		writeError(w, rt.openai, statusClientClosed, err.Error())
		return &guardReject{statusClientClosed, err}
	}
	if ok {
		return nil
	}
	g.m.rateLimited.WithLabelValues(scope, kind).Inc()
	secs := strconv.Itoa(retryAfterSeconds(retry))
	policy := `"` + scope + "-" + kind + `"`
	hd := w.Header()
	hd.Set("Retry-After", secs)
	// draft-ietf-httpapi-ratelimit-headers: the policy (quota per 60 s
	// window) and what is left of it (nothing, for t seconds).
	hd.Set("RateLimit-Policy", policy+";q="+strconv.Itoa(bl.perMinute)+";w=60")
	hd.Set("RateLimit", policy+";r=0;t="+secs)
	msg := "rate limit exceeded (" + scope + " " + kind + " per minute); retry after " + secs + " s"
	writeError(w, rt.openai, http.StatusTooManyRequests, msg)
	return &guardReject{http.StatusTooManyRequests, errors.New(msg)}
}

// checkRequest runs the checks that need the peeked body: the model
// allow-list, the caps and the token buckets. It may rewrite req.body to
// cap a request that asks for no limit on its output.
func (g *guard) checkRequest(w http.ResponseWriter, r *http.Request, rt *route, req *request, p *peeked) *guardReject {
	if c := req.who.cred; c != nil && !c.allowsModel(req.model) {
		return g.refuse(w, rt, http.StatusForbidden, reasonModel, "model '"+p.model+"' is not allowed for this credential")
	}
	if g.caps.MaxPromptBytes > 0 && len(p.prompt) > g.caps.MaxPromptBytes {
		msg := fmt.Sprintf("prompt of %d bytes exceeds limits.max_prompt_bytes (%d)", len(p.prompt), g.caps.MaxPromptBytes)
		writeError(w, rt.openai, http.StatusBadRequest, msg)
		return &guardReject{http.StatusBadRequest, errors.New(msg)}
	}
	if !rt.tokens {
		return nil
	}
	ipTok := g.lim != nil && g.rl.PerIP.TokensPerMinute > 0
	var credTok bool
	var cb BucketPair
	if g.lim != nil && req.who.cred != nil {
		cb = g.credBuckets(req.who.cred)
		credTok = cb.TokensPerMinute > 0
	}
	if g.caps.MaxNumPredict == 0 && !ipTok && !credTok {
		return nil
	}
	want := requestedTokens(req.body, rt.openai)
	if g.caps.MaxNumPredict > 0 {
		switch {
		case want.set && (want.n < 0 || want.n > int64(g.caps.MaxNumPredict)):
			msg := fmt.Sprintf("%s %d exceeds limits.max_num_predict (%d)", want.key, want.n, g.caps.MaxNumPredict)
			writeError(w, rt.openai, http.StatusBadRequest, msg)
			return &guardReject{http.StatusBadRequest, errors.New(msg)}
		case !want.set:
			req.body = capTokens(req.body, rt.openai, g.caps.MaxNumPredict)
			want = tokenRequest{n: int64(g.caps.MaxNumPredict), set: true}
		}
	}
	if !ipTok && !credTok {
		return nil
	}
	// Up front: the output asked for (or estimate_tokens) and the prompt
	// at about four bytes a token; the answer's counts correct it.
	est := int64(g.rl.EstimateTokens)
	if want.set && want.n > 0 {
		est = want.n
	}
	est += int64(len(p.prompt) / 4)
	if ipTok {
		bl := tokenBucket(g.rl.PerIP)
		if rj := g.take(w, r, rt, "ip", "tokens", "ip:"+req.who.ip.String()+":tokens", bl, int(est)); rj != nil {
			return rj
		}
		req.tokIP = min(est, int64(bl.burst)) // take charges at most a full bucket
	}
	if credTok {
		bl := tokenBucket(cb)
		if rj := g.take(w, r, rt, "credential", "tokens", "cred:"+req.who.cred.tenant+":tokens", bl, int(est)); rj != nil {
			if req.tokIP != 0 {
				_ = g.lim.adjust(r.Context(), "ip:"+req.who.ip.String()+":tokens", tokenBucket(g.rl.PerIP), -int(req.tokIP))
				req.tokIP = 0
			}
			return rj
		}
		req.tokCred = min(est, int64(bl.burst))
	}
	return nil
}

// settle corrects the up-front token charge once the answer is known: to
// the counts it reported; nothing for a request that failed with an error
// status (no tokens were generated); the estimate kept when there are no
// counts otherwise (an OpenAI stream without usage, a stream cut midway, a
// client that left: leaving must not be a way to get tokens back).
// Bounded by its own time-out: the client may be gone.
func (g *guard) settle(req *request, code int, inTokens, outTokens int64) {
	delta := func(charged int64) int {
		switch {
		case code >= 400 && code != statusClientClosed:
			return int(-charged)
		case inTokens+outTokens > 0:
			return int(inTokens + outTokens - charged)
		}
		return 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if d := delta(req.tokIP); req.tokIP != 0 && d != 0 {
		_ = g.lim.adjust(ctx, "ip:"+req.who.ip.String()+":tokens", tokenBucket(g.rl.PerIP), d)
	}
	if d := delta(req.tokCred); req.tokCred != 0 && d != 0 {
		_ = g.lim.adjust(ctx, "cred:"+req.who.cred.tenant+":tokens", tokenBucket(g.credBuckets(req.who.cred)), d)
	}
}

package bridge

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"
)

// Handler is the bridge's HTTP surface. Its configuration and pool live in
// one immutable state value swapped whole on reload, so a request sees one
// consistent generation from start to end.
type Handler struct {
	state     atomic.Pointer[state]
	routes    *routes
	transport *http.Transport
	client    *http.Client // health checks, fleet lists, management fan-out
	metrics   *metrics
	promh     http.Handler
	log       *slog.Logger
	clock     func() time.Time
	version   string
	instance  string
	tracing   *tracing                   // nil: tracing off
	cache     *responseCache             // nil: caching off (cache.go)
	batcher   *batcher                   // nil: embedding batching off (batch.go)
	tenantOf  func(*http.Request) string // Options.Tenant
	guard     *guard                     // nil: no auth, allow-list, limits or caps (guard.go)
	gm        *guardMetrics
	hsts      string // Strict-Transport-Security on HTTPS answers (tls.go)

	draining atomic.Bool
	idPrefix string
	idSeq    atomic.Uint64
	reqPool  sync.Pool
	bufPool  sync.Pool

	reloadMu sync.Mutex
	loadCfg  func() (Config, error) // re-reads file + flags on reload
	baseCtx  context.Context

	// discovered are the upstreams DNS found (discovery.go), added to the
	// configured ones whenever a pool is built; guarded by reloadMu.
	discovered []UpstreamConfig
	discoveryM *discoveryMetrics
}

// state is one configuration generation.
type state struct {
	cfg    Config
	pool   *Pool
	budget *budget
}

// Options are what the caller injects; zero values have defaults noted.
type Options struct {
	Version string
	// Registry receives the metrics; nil makes a private one.
	Registry *prometheus.Registry
	// Logger nil: slog.Default().
	Logger *slog.Logger
	// Clock nil: time.Now. Tests inject one for passive checks and breakers.
	Clock func() time.Time
	// Reload re-reads the configuration for SIGHUP and POST /admin/reload;
	// nil: reload is refused.
	Reload func() (Config, error)
	// TracerProvider nil: tracing off, at no cost on the hot path.
	TracerProvider trace.TracerProvider
	// LogSink, when the logger also writes to one, has its counters
	// registered with the bridge's metrics.
	LogSink *LogSink
	// Tenant names the tenant a request belongs to, for keying the cache
	// when no credential set one (nil: all share one). It must come from
	// something the client cannot forge for another tenant.
	Tenant func(*http.Request) string
}

// request is one client request on its way through the bridge. Pooled with
// its body buffer.
type request struct {
	route       *route
	id          string
	rawModel    string
	model       string // normalised: "tiny" → "tiny:latest"
	tier        int    // the fleet's best tier for model when routed (Pool.fleetTier); 0 if not asked
	stream      bool
	body        []byte
	buf         bytes.Buffer
	hasAffinity bool
	affinity    uint64
	tried       [8]*Upstream
	nTried      int
	x           exchange // the current attempt's (proxy.go)

	// Tracing, set only when it is on (tracing.go).
	span        trace.Span
	spanCtx     context.Context
	attemptSpan trace.Span
	nAttempt    int
	traceparent string
	tracestate  string
	inTokens    int64 // prompt tokens of the serving attempt, for the server span

	// capture tees the answer for the cache; nil unless this request
	// leads a cacheable miss (cache.go).
	capture *capture
	// sub, when set, receives forward's outcome instead of it being
	// recorded as a client request: an internal call (batch.go).
	sub *subResult
	// Guard, set only when it is on (guard.go).
	who     identity
	tenant  string // the credential's name, for the cache key; never the credential; "" when auth is off
	tokIP   int64  // LLM tokens charged up front to the client IP's bucket
	tokCred int64  // and to the credential's
}

func (r *request) markTried(u *Upstream) {
	r.tried[r.nTried%len(r.tried)] = u
	if r.nTried < len(r.tried) {
		r.nTried++
	}
}

// NewHandler builds the bridge for cfg (already validated). Call Start to run
// health checks before serving.
func NewHandler(cfg Config, o Options) *Handler {
	clock := o.Clock
	if clock == nil {
		clock = time.Now
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.Default()
	}
	reg := o.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	logger, logs := countingLogger(logger)
	reg.MustRegister(logs.vec)
	if o.LogSink != nil {
		reg.MustRegister(o.LogSink.Collectors()...)
	}
	h := &Handler{routes: newRoutes(), log: logger, clock: clock, version: o.Version, instance: cfg.InstanceID,
		loadCfg: o.Reload, tracing: newTracing(o.TracerProvider)}
	h.transport = newTransport(cfg.Timeouts.Dial)
	h.client = &http.Client{Transport: h.transport}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	h.idPrefix = hex.EncodeToString(rnd[:]) + "-"
	h.reqPool.New = func() any { return new(request) }
	h.bufPool.New = func() any { b := make([]byte, 32<<10); return &b }
	h.metrics = newMetrics(reg, o.Version, cfg.InstanceID, func() []*Upstream { return h.state.Load().pool.all })
	h.gm = newGuardMetrics(reg)
	h.promh = promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	h.discoveryM = newDiscoveryMetrics(reg)
	pool := newPool(&cfg, nil, h.client, clock)
	for _, u := range pool.all {
		h.metrics.bindUpstream(u)
	}
	h.state.Store(&state{cfg: cfg, pool: pool, budget: newBudget(cfg.Retry)})
	h.tenantOf = o.Tenant
	if cfg.Cache.Backend != "" {
		c, err := newResponseCache(cfg.Cache, reg, clock, logger)
		if err != nil {
			logger.Error("cache off: cannot start it", "error.message", err.Error())
		} else {
			h.cache = c
		}
	}
	if cfg.Batch.MaxWait > 0 {
		h.batcher = newBatcher(cfg.Batch, reg)
	}
	return h
}

// newTransport is tuned for many short exchanges with few hosts: keep-alive
// connections enough for every concurrent request (the default of 2 idle per
// host makes a proxy re-dial constantly), HTTP/1.1 only (Ollama speaks it;
// HTTP/2 would multiplex onto one connection and one server goroutine), no
// transparent gzip (bodies pass through untouched).
func newTransport(dial time.Duration) *http.Transport {
	d := &net.Dialer{Timeout: dial, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext:         d.DialContext,
		MaxIdleConns:        4096,
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   false,
		DisableCompression:  true,
		WriteBufferSize:     32 << 10,
		ReadBufferSize:      32 << 10,
	}
}

// Start checks every upstream once (so /ready and model routing are right
// from the first request) and starts the health checkers until ctx ends.
func (h *Handler) Start(ctx context.Context) {
	h.baseCtx = ctx
	st := h.state.Load()
	st.pool.checkAll(ctx, true)
	st.pool.start(ctx)
	if d := st.cfg.UpstreamsDNS; d.enabled() {
		h.discoverOnce(ctx, d) // serve the discovered fleet from the first request
	}
	go h.discoverLoop(ctx)
	h.updateReady()
}

// Stop ends the health checkers.
func (h *Handler) Stop() { h.state.Load().pool.stopHealth() }

// Close releases what the cache holds (Redis connections); after Stop, once
// no request is left.
func (h *Handler) Close() {
	if h.cache != nil {
		h.cache.close()
	}
}

// SetDraining flips readiness off at once (SIGTERM): load balancers stop
// sending while in-flight requests finish.
func (h *Handler) SetDraining() {
	h.draining.Store(true)
	h.metrics.draining.Set(1)
	h.metrics.ready.Set(0)
}

func (h *Handler) updateReady() bool {
	ok := !h.draining.Load() && h.state.Load().pool.ready()
	if ok {
		h.metrics.ready.Set(1)
	} else {
		h.metrics.ready.Set(0)
	}
	return ok
}

// ServeHTTP routes, checks the method and dispatches. Only kindModel and
// kindAny take the hot path in proxy.go.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.clock()
	rt := h.routes.lookup(r.URL.Path)
	id := headerGet(r.Header, "X-Request-Id") // both servers canonicalise keys
	if id == "" || len(id) > 128 {
		id = h.newRequestID()
	}
	w.Header().Set("X-Request-Id", id)
	if rt == nil {
		h.finish(r, h.routes.other, id, "", http.StatusNotFound, start, nil, 0, errors.New("unknown path"), nil)
		writeError(w, false, http.StatusNotFound, "404 page not found: "+r.URL.Path)
		return
	}
	if !rt.methodAllowed(r.Method) {
		w.Header().Set("Allow", rt.allow)
		writeError(w, rt.openai, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed; allowed: "+rt.allow)
		h.finish(r, rt, id, "", http.StatusMethodNotAllowed, start, nil, 0, errors.New("method not allowed"), nil)
		return
	}
	if r.TLS != nil && h.hsts != "" {
		w.Header().Set("Strict-Transport-Security", h.hsts)
	}
	var who identity
	if h.guard != nil && rt.kind != kindHealth && rt.kind != kindReady {
		var rj *guardReject
		if who, rj = h.guard.admit(w, r, rt); rj != nil {
			h.finish(r, rt, id, "", rj.code, start, nil, 0, rj.err, nil)
			return
		}
	}
	switch rt.kind {
	case kindModel, kindAny:
		h.serveProxy(w, r, rt, id, start, who)
	case kindRoot:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Content-Length", "17")
		if r.Method != http.MethodHead {
			_, _ = io.WriteString(w, "Ollama is running")
		}
	case kindFleetList:
		h.serveFleetList(w, r, rt, who)
	case kindV1Model:
		h.serveV1Model(w, r, rt, who)
	case kindManage:
		h.serveManage(w, r, rt, id)
	case kindHealth:
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	case kindReady:
		w.Header().Set("Content-Type", "application/json")
		if !h.updateReady() {
			w.WriteHeader(http.StatusServiceUnavailable)
			if h.draining.Load() {
				_, _ = io.WriteString(w, `{"status":"draining"}`)
			} else {
				_, _ = io.WriteString(w, `{"status":"no upstream available"}`)
			}
			return
		}
		_, _ = io.WriteString(w, `{"status":"ready"}`)
	case kindMetrics:
		h.updateReady()
		h.promh.ServeHTTP(w, r)
	case kindAdminUpstreams:
		h.serveAdminUpstreams(w, r)
	case kindAdminReload:
		h.serveAdminReload(w, r)
	case kindPprof:
		if !h.state.Load().cfg.Pprof {
			writeError(w, false, http.StatusNotFound, "404 page not found: "+r.URL.Path+" (pprof is off)")
			return
		}
		servePprof(w, r)
	}
}

// newRequestID is a per-process random prefix and a sequence number: unique
// across bridge instances without a random read per request.
func (h *Handler) newRequestID() string {
	var b [32]byte
	n := copy(b[:], h.idPrefix)
	return string(strconv.AppendUint(b[:n], h.idSeq.Add(1), 16))
}

// finish records one answered request: metrics always, a log line for
// failures, retries and non-2xx (log.access "errors"), or for all. sp is the
// request's server span (nil: tracing off): its trace.id goes in the line.
func (h *Handler) finish(r *http.Request, rt *route, id, model string, code int, start time.Time, u *Upstream, attempts int, err error, sp trace.Span) {
	d := h.clock().Sub(start)
	h.metrics.request(rt.idx, model, code)
	if rt.clientTraffic() {
		h.metrics.duration.Observe(d.Seconds())
	}
	access := h.state.Load().cfg.Log.Access
	if access == "none" || (access == "errors" && code < 400 && attempts <= 1 && err == nil) {
		return
	}
	// A 5xx is the bridge failing a client: an error line, which the seed's
	// "error logs > 10/min" alert counts. A failure it recovered from (a
	// retry, a client's 4xx with an error) is a warning.
	level := slog.LevelInfo
	switch {
	case code >= 500:
		level = slog.LevelError
	case err != nil:
		level = slog.LevelWarn
	}
	if !h.log.Enabled(r.Context(), level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("http.request.id", id),
		slog.String("http.request.method", r.Method),
		slog.String("url.path", r.URL.Path),
		slog.Int("http.response.status_code", code),
		slog.Int64("event.duration", d.Nanoseconds()),
		slog.Int("attempts", attempts),
	}
	if model != "" {
		attrs = append(attrs, slog.String("model", model))
	}
	if u != nil {
		attrs = append(attrs, slog.String("upstream", u.name))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error.message", err.Error()))
	}
	if sp != nil {
		if sc := sp.SpanContext(); sc.IsValid() {
			attrs = append(attrs, slog.String("trace.id", sc.TraceID().String()), slog.String("span.id", sc.SpanID().String()))
		}
	}
	h.log.LogAttrs(r.Context(), level, "request", attrs...)
}

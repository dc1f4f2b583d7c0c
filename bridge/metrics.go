package bridge

import (
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the bridge's Prometheus series. The registry is passed in (no
// global). Label sets are bounded: routes come from the route table, models
// from what the fleet lists (anything else is "unknown"), codes from HTTP,
// upstreams from the config. Children are resolved once and cached so the
// hot path does no label hashing.
type metrics struct {
	requests      *prometheus.CounterVec
	duration      prometheus.Histogram
	ttft          *prometheus.HistogramVec
	overhead      prometheus.Histogram
	upstreamReqs  *prometheus.CounterVec
	upstreamFails *prometheus.CounterVec
	retries       prometheus.Counter
	failovers     prometheus.Counter
	reloads       *prometheus.CounterVec
	ready         prometheus.Gauge
	draining      prometheus.Gauge
	streamErrors  prometheus.Counter
	budgetDenied  prometheus.Counter
	fallbacks     prometheus.Counter
	outTokens     *prometheus.CounterVec
	itl           *zeroBatchHistogram

	// routeTokens holds output-token children by route index, nil for
	// routes that generate no tokens.
	routeTokens []prometheus.Counter

	mu       sync.RWMutex
	reqCache map[reqKey]prometheus.Counter
	// routeTTFT holds per-route children by route index.
	routeTTFT []prometheus.Observer
}

type reqKey struct {
	route int
	model string
	code  int
}

// itlBuckets cover 1 ms to 5 s between two streamed messages: a fast GPU
// model writes a token every few milliseconds, a loaded CPU one every
// second or more. Messages that reach the client in one write count as 0.
var itlBuckets = []float64{.001, .0025, .005, .0075, .01, .015, .02, .03, .05, .075, .1, .15, .25, .5, 1, 2.5, 5}

// native adds native-histogram settings to a latency histogram's opts. The
// classic buckets stay: Prometheus without
// --enable-feature=native-histograms (Debian's 2.42) scrapes the text format
// and sees only _bucket/_sum/_count, which the dashboards and alerts query.
// A protobuf scrape gets both. Factor 1.1 is schema 3 (buckets about 9%
// wide). Past 100 buckets the client resets the histogram if the last reset
// is at least an hour old, else it halves the resolution.
func native(o prometheus.HistogramOpts) prometheus.HistogramOpts {
	o.NativeHistogramBucketFactor = 1.1
	o.NativeHistogramMaxBucketNumber = 100
	o.NativeHistogramMinResetDuration = time.Hour
	return o
}

// LLM latencies span milliseconds (an embedding) to minutes (a long stream).
var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300}

func newMetrics(reg prometheus.Registerer, version, instance string, upstreams func() []*Upstream) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bridge_requests_total",
			Help: "Requests answered by the bridge, by route, model and HTTP status code."}, []string{"route", "model", "code"}),
		// One series per bridge, no route label: the seed's
		// avg by (instance) (rate(_sum[5m]) / rate(_count[5m])) averages
		// per-series means, and any idle route series would make it 0/0 =
		// NaN. Probes, scrapes and admin calls are not client traffic and are
		// left out, so they cannot dilute the latency the alerts watch.
		duration: prometheus.NewHistogram(native(prometheus.HistogramOpts{Name: "bridge_request_duration_seconds",
			Help: "Time from request arrival to the last byte of the answer, client API requests only.", Buckets: latencyBuckets})),
		ttft: prometheus.NewHistogramVec(native(prometheus.HistogramOpts{Name: "bridge_time_to_first_token_seconds",
			Help: "Time from request arrival to the first body byte of a streamed answer.", Buckets: latencyBuckets}), []string{"route"}),
		overhead: prometheus.NewHistogram(native(prometheus.HistogramOpts{Name: "bridge_overhead_seconds",
			Help:    "Time the bridge itself added: request duration minus the final upstream exchange.",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .05, .25, 1, 5}})),
		upstreamFails: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bridge_upstream_failures_total",
			Help: "Attempts that counted against an upstream, by reason (connect, timeout, dead, status_5xx, stream, other)."}, []string{"upstream", "reason"}),
		upstreamReqs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bridge_upstream_requests_total",
			Help: "Attempts sent to each upstream by outcome (success, failure, client_error, canceled)."}, []string{"upstream", "outcome"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{Name: "bridge_retries_total",
			Help: "Attempts re-sent to another upstream after a failure before the first byte."}),
		failovers: prometheus.NewCounter(prometheus.CounterOpts{Name: "bridge_failovers_total",
			Help: "Requests that succeeded on another upstream after their first choice failed."}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bridge_config_reloads_total",
			Help: "Configuration reloads by result (success, failure)."}, []string{"result"}),
		draining: prometheus.NewGauge(prometheus.GaugeOpts{Name: "bridge_draining",
			Help: "1 from SIGTERM until exit: not ready on purpose, finishing in-flight requests."}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{Name: "bridge_ready",
			Help: "1 when the bridge can serve (an upstream is available and it is not draining)."}),
		streamErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "bridge_stream_errors_total",
			Help: "Streams that failed after their first byte and were ended with a protocol error."}),
		budgetDenied: prometheus.NewCounter(prometheus.CounterOpts{Name: "bridge_retry_budget_exhausted_total",
			Help: "Retries not made because the retry budget was spent."}),
		fallbacks: prometheus.NewCounter(prometheus.CounterOpts{Name: "bridge_fallback_attempts_total",
			Help: "Attempts made although no upstream was available (all out by checks or breakers): the least recently failed one is tried rather than refusing."}),
		// By route only: the dashboards sum by instance, and a model label
		// would need the locked child cache requests uses.
		outTokens: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bridge_output_tokens_total",
			Help: "Tokens generated, as the upstream counted them in the answer it relayed (eval_count of the final NDJSON object, usage.completion_tokens on OpenAI routes)."}, []string{"route"}),
		// One series per bridge, like bridge_request_duration_seconds.
		itl: newZeroBatchHistogram(native(prometheus.HistogramOpts{Name: "bridge_inter_token_latency_seconds",
			Help:    "Gap between consecutive messages (NDJSON lines, SSE events) of a streamed answer as written to the client; messages written together count 0.",
			Buckets: itlBuckets})),
		reqCache: map[reqKey]prometheus.Counter{},
	}
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bridge_build_info",
		Help: "Always 1; labels carry the version and Go version."}, []string{"version", "goversion", "instance_id"})
	goVersion := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
	}
	build.WithLabelValues(version, goVersion, instance).Set(1)
	for _, r := range routeTable() {
		m.routeTTFT = append(m.routeTTFT, m.ttft.WithLabelValues(r.name))
		var c prometheus.Counter
		if r.tokens {
			c = m.outTokens.WithLabelValues(r.name)
		}
		m.routeTokens = append(m.routeTokens, c)
	}
	for _, res := range []string{"success", "failure"} {
		m.reloads.WithLabelValues(res)
	}
	reg.MustRegister(m.requests, m.upstreamFails, m.draining, m.duration, m.ttft, m.overhead, m.upstreamReqs, m.retries, m.failovers,
		m.reloads, m.ready, m.streamErrors, m.budgetDenied, m.fallbacks, m.outTokens, m.itl, build, &upstreamCollector{upstreams: upstreams},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// request counts one answered request; the child is cached by its labels.
func (m *metrics) request(route int, model string, code int) {
	k := reqKey{route, model, code}
	m.mu.RLock()
	c, ok := m.reqCache[k]
	m.mu.RUnlock()
	if !ok {
		m.mu.Lock()
		if c, ok = m.reqCache[k]; !ok {
			c = m.requests.WithLabelValues(routeTable()[route].name, model, strconv.Itoa(code))
			m.reqCache[k] = c
		}
		m.mu.Unlock()
	}
	c.Inc()
}

// bindUpstream resolves an upstream's outcome children once.
func (m *metrics) bindUpstream(u *Upstream) {
	u.m = upstreamMetrics{
		success:     m.upstreamReqs.WithLabelValues(u.name, "success"),
		failure:     m.upstreamReqs.WithLabelValues(u.name, "failure"),
		clientError: m.upstreamReqs.WithLabelValues(u.name, "client_error"),
		canceled:    m.upstreamReqs.WithLabelValues(u.name, "canceled"),
	}
	for i, why := range failureReasonNames {
		u.m.failures[i] = m.upstreamFails.WithLabelValues(u.name, why)
	}
}

// forgetUpstream drops the series of an upstream a reload removed, so label
// values stay bounded by the current config.
func (m *metrics) forgetUpstream(name string) {
	for _, o := range []string{"success", "failure", "client_error", "canceled"} {
		m.upstreamReqs.DeleteLabelValues(name, o)
	}
	for _, why := range failureReasonNames {
		m.upstreamFails.DeleteLabelValues(name, why)
	}
}

// upstreamCollector reads per-upstream state at scrape time from the atomics
// the hot path keeps anyway, instead of mirroring it into gauges on every
// request (client_golang testutil: don't use metrics as state).
type upstreamCollector struct {
	upstreams func() []*Upstream
}

var (
	descUp       = prometheus.NewDesc("bridge_upstream_up", "1 when the upstream is available for new requests.", []string{"upstream"}, nil)
	descCircuit  = prometheus.NewDesc("bridge_upstream_circuit_state", "Circuit breaker state: 0 closed, 1 half-open, 2 open.", []string{"upstream"}, nil)
	descInFlight = prometheus.NewDesc("bridge_upstream_in_flight", "Requests in flight to the upstream.", []string{"upstream"}, nil)
	descLoaded   = prometheus.NewDesc("bridge_upstream_models_loaded", "Models the upstream has loaded in memory, from its /api/ps.", []string{"upstream"}, nil)
)

func (c *upstreamCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descUp
	ch <- descCircuit
	ch <- descInFlight
	ch <- descLoaded
}

func (c *upstreamCollector) Collect(ch chan<- prometheus.Metric) {
	for _, u := range c.upstreams() {
		up := 0.0
		if u.Available(u.clock().UnixNano()) {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, up, u.name)
		ch <- prometheus.MustNewConstMetric(descCircuit, prometheus.GaugeValue, stateValue(u.brk.Load().state()), u.name)
		ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(u.inFlight.Load()), u.name)
		loaded := 0
		if ms := u.models.Load(); ms != nil {
			loaded = len(ms.loaded)
		}
		ch <- prometheus.MustNewConstMetric(descLoaded, prometheus.GaugeValue, float64(loaded), u.name)
	}
}

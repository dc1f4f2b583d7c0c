package ollamasim

import (
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics is the simulator's own instrumentation: the server-side ground
// truth a testbed compares a bridge's view against. Ollama has none.
type metrics struct {
	requests     *prometheus.CounterVec // endpoint, model, code
	faults       *prometheus.CounterVec // kind
	outputTokens *prometheus.CounterVec // model
	promptTokens *prometheus.CounterVec // model
	loads        *prometheus.CounterVec // model
	rejected     *prometheus.CounterVec // model (503 queue full)

	// cache of resolved request counters: WithLabelValues hashes three
	// strings per call, which shows on the instant profile's hot path.
	mu    sync.Mutex
	cache map[reqKey]prometheus.Counter
}

type reqKey struct {
	endpoint, model string
	code            int
}

func newMetrics(reg prometheus.Registerer, s *scheduler) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ollamasim_requests_total",
			Help: "Requests answered, by endpoint (route), model (served model, or \"\" when none) and HTTP status.",
		}, []string{"endpoint", "model", "code"}),
		faults: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ollamasim_faults_fired_total",
			Help: "Injected faults that fired, by kind.",
		}, []string{"kind"}),
		outputTokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ollamasim_output_tokens_total",
			Help: "Generated (eval) tokens written to clients.",
		}, []string{"model"}),
		promptTokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ollamasim_prompt_tokens_total",
			Help: "Prompt tokens evaluated.",
		}, []string{"model"}),
		loads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ollamasim_model_loads_total",
			Help: "Cold model loads started.",
		}, []string{"model"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ollamasim_queue_rejections_total",
			Help: "Requests refused with 503 because the pending queue was full.",
		}, []string{"model"}),
		cache: map[reqKey]prometheus.Counter{},
	}
	reg.MustRegister(m.requests, m.faults, m.outputTokens, m.promptTokens, m.loads, m.rejected, &stateCollector{s: s})
	return m
}

func (m *metrics) request(endpoint, model string, code int) {
	k := reqKey{endpoint, model, code}
	m.mu.Lock()
	c, ok := m.cache[k]
	if !ok {
		c = m.requests.WithLabelValues(endpoint, model, strconv.Itoa(code))
		m.cache[k] = c
	}
	m.mu.Unlock()
	c.Inc()
}

// stateCollector reads the scheduler at scrape time rather than keeping
// gauges in step with it (client_golang's testutil advice: don't use
// metrics as state).
type stateCollector struct{ s *scheduler }

var (
	descQueue  = prometheus.NewDesc("ollamasim_queue_depth", "Requests waiting: for their model to load, or for a free slot.", []string{"model"}, nil)
	descBusy   = prometheus.NewDesc("ollamasim_busy_slots", "Slots (of NUM_PARALLEL) generating now.", []string{"model"}, nil)
	descLoaded = prometheus.NewDesc("ollamasim_loaded_models", "Models loaded or loading.", nil, nil)
	descModel  = prometheus.NewDesc("ollamasim_model_loaded", "1 when the model is loaded (or loading), else 0.", []string{"model"}, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descQueue
	ch <- descBusy
	ch <- descLoaded
	ch <- descModel
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	n := 0
	for _, st := range c.s.snapshot() {
		ch <- prometheus.MustNewConstMetric(descQueue, prometheus.GaugeValue, float64(st.queued), st.name)
		ch <- prometheus.MustNewConstMetric(descBusy, prometheus.GaugeValue, float64(st.busy), st.name)
		v := 0.0
		if st.state != unloaded {
			v, n = 1, n+1
		}
		ch <- prometheus.MustNewConstMetric(descModel, prometheus.GaugeValue, v, st.name)
	}
	ch <- prometheus.MustNewConstMetric(descLoaded, prometheus.GaugeValue, float64(n))
}

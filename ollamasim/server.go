// Package ollamasim is an Ollama v0.17.4 simulator: the same HTTP API and
// wire format (built on Ollama's own api and openai types), its scheduler's
// queueing and keep-alive behaviour, modelled timings per model, and faults
// that a chaos run switches on and off while it runs. It stands in for a
// fleet of Ollama servers on a small machine.
package ollamasim

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Version is the Ollama version the simulator answers as.
const Version = "0.17.4"

// Server is the simulator's HTTP handler.
type Server struct {
	cfg            Config
	now            func() time.Time
	exit           func(int)
	sched          *scheduler
	faults         *faultSet
	metrics        *metrics
	catalog        models
	metricsHandler http.Handler
	options        optionKinds
	cors           corsPolicy
	ids            atomic.Uint64 // chatcmpl-N / cmpl-N ids
}

// New returns a simulator serving cfg, registering its metrics on reg.
func New(cfg Config, reg *prometheus.Registry) (*Server, error) {
	if len(cfg.Models) == 0 {
		cfg.Models = DefaultModels()
	}
	seen := map[string]bool{}
	models := make([]string, 0, len(cfg.Models))
	for _, m := range cfg.Models {
		m = NormalizeName(m)
		if m == "" || seen[m] {
			continue
		}
		seen[m] = true
		models = append(models, m)
	}
	if len(models) == 0 {
		return nil, fmt.Errorf("no models to serve")
	}
	cfg.Models = models
	if cfg.Parallel <= 0 {
		cfg.Parallel = 1 // OLLAMA_NUM_PARALLEL default (envconfig)
	}
	if cfg.MaxQueue < 0 {
		cfg.MaxQueue = 0
	}
	if cfg.MaxLoadedModels <= 0 {
		cfg.MaxLoadedModels = 3 // defaultModelsPerGPU × one GPU (server/sched.go)
	}
	s0 := 5 * time.Minute // OLLAMA_KEEP_ALIVE default (envconfig)
	if cfg.KeepAlive != nil {
		s0 = *cfg.KeepAlive
	}
	if s0 < 0 {
		s0 = forever
	}
	cfg.KeepAlive = &s0
	if cfg.Profiles.Default == (Profile{}) {
		cfg.Profiles.Default = DefaultProfile()
	}
	s := &Server{cfg: cfg, now: cfg.Now, exit: cfg.Exit, options: newOptionKinds(), cors: newCORSPolicy(cfg.Origins)}
	if s.now == nil {
		s.now = time.Now
	}
	if s.exit == nil {
		s.exit = os.Exit
	}
	start := s.now()
	c := &catalog{byName: map[string]*modelInfo{}}
	for i, m := range cfg.Models {
		// Ollama lists newest first: give the first model the newest time
		// so /api/tags keeps the configured order.
		mi := newModelInfo(m, cfg.Profiles.For(m), start.Add(-time.Duration(i+1)*time.Hour))
		c.byName[m] = mi
		c.order = append(c.order, mi)
	}
	s.catalog.cur.Store(c)
	s.faults = newFaultSet(cfg.Seed, func(k FaultKind) { s.metrics.faults.WithLabelValues(string(k)).Inc() })
	s.sched = newScheduler(&s.cfg, s.now, s.loadTime, func(m string) int {
		if mi, ok := s.lookup(m); ok {
			return mi.contextLen
		}
		return 0
	})
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s.metrics = newMetrics(reg, s.sched)
	s.metricsHandler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	return s, nil
}

// loadTime is a model's cold-load time, plus any slow_load faults.
func (s *Server) loadTime(model string) time.Duration {
	var d time.Duration
	if m, ok := s.lookup(model); ok {
		d = m.prof.LoadTime.D()
	}
	for _, f := range s.faults.roll("", model, FaultSlowLoad) {
		d += f.Delay.D()
	}
	s.metrics.loads.WithLabelValues(model).Inc()
	return d
}

// lookup resolves a request's model name to a served model.
func (s *Server) lookup(name string) (*modelInfo, bool) {
	c := s.catalog.load()
	if mi, ok := c.byName[name]; ok {
		return mi, true
	}
	mi, ok := c.byName[NormalizeName(name)]
	return mi, ok
}

// route is one path's handler and the methods it takes.
type route struct {
	endpoint string // metrics label
	allow    string // Allow header on 405
	methods  [2]string
	h        func(*Server, http.ResponseWriter, *http.Request)
}

// routes mirrors Ollama's gin router (server/routes.go GenerateRoutes) for
// the endpoints the simulator serves. A 405's Allow header lists methods in
// the order gin created its method trees: HEAD first, as GenerateRoutes
// registers HEAD / before anything else.
func routeFor(path string) (route, bool) {
	switch path {
	case "/":
		return route{"/", "HEAD, GET", [2]string{"GET", "HEAD"}, (*Server).handleRoot}, true
	case "/api/version":
		return route{path, "HEAD, GET", [2]string{"GET", "HEAD"}, (*Server).handleVersion}, true
	case "/api/tags":
		return route{path, "HEAD, GET", [2]string{"GET", "HEAD"}, (*Server).handleTags}, true
	case "/api/copy":
		return route{path, "POST", [2]string{"POST"}, (*Server).handleCopy}, true
	case "/api/delete":
		return route{path, "DELETE", [2]string{"DELETE"}, (*Server).handleDelete}, true
	case "/api/ps":
		return route{path, "GET", [2]string{"GET"}, (*Server).handlePs}, true
	case "/api/show":
		return route{path, "POST", [2]string{"POST"}, (*Server).handleShow}, true
	case "/api/generate":
		return route{path, "POST", [2]string{"POST"}, (*Server).handleGenerate}, true
	case "/api/chat":
		return route{path, "POST", [2]string{"POST"}, (*Server).handleChat}, true
	case "/api/embed":
		return route{path, "POST", [2]string{"POST"}, (*Server).handleEmbed}, true
	case "/api/embeddings":
		return route{path, "POST", [2]string{"POST"}, (*Server).handleEmbeddings}, true
	case "/v1/chat/completions":
		return route{path, "POST", [2]string{"POST"}, (*Server).handleOpenAIChat}, true
	case "/v1/completions":
		return route{path, "POST", [2]string{"POST"}, (*Server).handleOpenAICompletion}, true
	case "/v1/embeddings":
		return route{path, "POST", [2]string{"POST"}, (*Server).handleOpenAIEmbeddings}, true
	case "/v1/responses":
		return route{path, "POST", [2]string{"POST"}, (*Server).handleResponses}, true
	case "/v1/messages":
		return route{path, "POST", [2]string{"POST"}, (*Server).handleMessages}, true
	case "/v1/models":
		return route{path, "GET", [2]string{"GET"}, (*Server).handleOpenAIModels}, true
	}
	if strings.HasPrefix(path, "/v1/models/") && len(path) > len("/v1/models/") {
		return route{"/v1/models/{model}", "GET", [2]string{"GET"}, (*Server).handleOpenAIModel}, true
	}
	return route{}, false
}

// ServeHTTP routes a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case path == "/metrics":
		s.metricsHandler.ServeHTTP(w, r)
		return
	case path == "/sim/faults":
		s.serveFaults(w, r)
		return
	}
	if s.cors.apply(w, r) {
		return
	}
	rt, ok := routeFor(path)
	if !ok {
		// gin's default 404.
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte("404 page not found"))
		return
	}
	if r.Method != rt.methods[0] && r.Method != rt.methods[1] {
		// gin with HandleMethodNotAllowed (transcript 63).
		w.Header().Set("Allow", rt.allow)
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusMethodNotAllowed)
		_, _ = w.Write([]byte("405 method not allowed"))
		s.metrics.request(rt.endpoint, "", http.StatusMethodNotAllowed)
		return
	}
	rt.h(s, w, r)
}

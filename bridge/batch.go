package bridge

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// batcher merges concurrent embedding requests (/api/embed, /v1/embeddings)
// for the same model and the same other fields (options, truncate,
// dimensions, encoding_format, keep_alive…) into one upstream call: the
// first request of a batch waits at most batch.max_wait for others (or until
// batch.max_inputs inputs have joined), sends all their inputs in one
// request through the usual selection, retries and breakers, and splits the
// answer back (batchsplit.go). An embedding model pays a fixed cost per
// call besides its per-token cost, so one call of n inputs is cheaper than
// n calls.
//
// Errors: a 4xx for the merged call is probably one member's fault (an
// input over the context with truncate false), so each member is then sent
// on its own and gets its own answer; any other failure (5xx, no upstream,
// a cut answer) goes to every member as the merged call got it.
type batcher struct {
	cfg   BatchConfig
	mu    sync.Mutex
	open  map[string]*batch
	sizes prometheus.Histogram
}

// batch is one merged call in the making. Members are appended under the
// batcher's lock until it is closed (removed from open).
type batch struct {
	members []*batchMember
	inputs  int
	full    chan struct{} // closed when max_inputs is reached
	done    chan struct{} // closed when every member's answer is set
}

// batchMember is one client request in a batch and, once done, its answer.
type batchMember struct {
	rawModel string
	inputs   []json.RawMessage
	weight   int // bytes of input, to apportion token counts

	fallback bool // send it on its own
	status   int
	ctype    string
	body     []byte
	sub      subResult
}

// subResult is an internal call's outcome (request.sub).
type subResult struct {
	code     int
	u        *Upstream
	attempts int
	err      error
}

func newBatcher(cfg BatchConfig, reg prometheus.Registerer) *batcher {
	b := &batcher{cfg: cfg, open: map[string]*batch{},
		sizes: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "bridge_embed_batch_requests",
			Help:    "Client requests merged into each upstream embedding call (1: nobody joined within batch.max_wait).",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256}})}
	reg.MustRegister(b.sizes)
	return b
}

// batchable: the embedding routes whose request takes a list of inputs.
func (r *route) batchable() bool { return r.name == "embed" || r.name == "v1_embeddings" }

// serveBatched answers req as a member of a batch. It returns false when
// the caller should forward req alone: not batchable (no string inputs, more
// inputs than a batch holds), alone in its batch, or sent back by a 4xx.
func (h *Handler) serveBatched(w http.ResponseWriter, r *http.Request, st *state, req *request, start time.Time) bool {
	fields, inputs, ok := splitInputs(req.body)
	if !ok || len(inputs) > h.batcher.cfg.MaxInputs {
		return false
	}
	delete(fields, "model")
	rest, err := json.Marshal(fields) // keys sorted: the batch key
	if err != nil {
		return false
	}
	key := req.route.name + "\x00" + req.model + "\x00" + string(rest)
	m := &batchMember{rawModel: req.rawModel, inputs: inputs}
	for _, in := range inputs {
		m.weight += len(in)
	}
	b, leader := h.batcher.join(key, m)
	if leader {
		h.runBatch(r, st, req, key, b, fields, start)
	} else {
		<-b.done // the leader answers within the merged call's bounds
	}
	if m.fallback {
		return false
	}
	w.Header().Set("Content-Type", m.ctype)
	w.Header().Set("Content-Length", strconv.Itoa(len(m.body)))
	w.WriteHeader(m.status)
	code := m.status
	if _, werr := w.Write(m.body); werr != nil {
		code, err = statusClientClosed, werr
	} else {
		err = m.sub.err
	}
	if req.capture != nil && m.status == http.StatusOK {
		req.capture.add(m.body)
		req.capture.complete(m.ctype)
	}
	h.done(r, req, h.modelLabel(st, req), code, start, m.sub.u, m.sub.attempts, err, 0)
	return true
}

// join adds m to the open batch for key, or opens one with m as its leader.
func (bt *batcher) join(key string, m *batchMember) (*batch, bool) {
	bt.mu.Lock()
	defer bt.mu.Unlock()
	b, ok := bt.open[key]
	if ok && b.inputs+len(m.inputs) > bt.cfg.MaxInputs {
		// No room: close it (its leader sends it now) and lead a new one.
		delete(bt.open, key)
		close(b.full)
		ok = false
	}
	if !ok {
		b = &batch{full: make(chan struct{}), done: make(chan struct{})}
		bt.open[key] = b
	}
	b.members = append(b.members, m)
	b.inputs += len(m.inputs)
	if b.inputs >= bt.cfg.MaxInputs {
		if bt.open[key] == b {
			delete(bt.open, key)
		}
		select {
		case <-b.full:
		default:
			close(b.full)
		}
	}
	return b, !ok
}

// close takes b out of the open set, if still there: nobody joins after.
func (bt *batcher) close(key string, b *batch) {
	bt.mu.Lock()
	if bt.open[key] == b {
		delete(bt.open, key)
	}
	bt.mu.Unlock()
}

// runBatch is the leader's part: wait for members, make the merged call,
// split its answer. Every member's answer is set when it returns.
func (h *Handler) runBatch(r *http.Request, st *state, req *request, key string, b *batch, fields map[string]json.RawMessage, start time.Time) {
	defer close(b.done)
	t := time.NewTimer(h.batcher.cfg.MaxWait)
	select {
	case <-t.C:
	case <-b.full:
		t.Stop()
	}
	h.batcher.close(key, b)
	h.batcher.sizes.Observe(float64(len(b.members)))
	if len(b.members) == 1 {
		b.members[0].fallback = true // alone: the plain path, no rewrite
		return
	}
	var all []json.RawMessage
	for _, m := range b.members {
		all = append(all, m.inputs...)
	}
	fields["input"], _ = json.Marshal(all)
	fields["model"], _ = json.Marshal(req.rawModel)
	body, _ := json.Marshal(fields)

	// The merged call runs to its end even if members leave: it is one
	// short call, bounded by the upstream time-outs and health checks.
	ctx := context.WithoutCancel(r.Context())
	res := h.callInternal(ctx, st, req, body, start)
	split(b, req.route.openai, res)
}

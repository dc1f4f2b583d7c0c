package ollamasim

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/ollama/ollama/api"
	"github.com/ollama/ollama/types/model"
)

// catalog is the set of models the simulator serves, as /api/tags lists
// them (newest first). It is immutable once published: /api/copy and
// /api/delete build a new one, so the request path reads it with one
// atomic load and no lock.
type catalog struct {
	byName map[string]*modelInfo
	order  []*modelInfo
}

// models holds the current catalog; mu serialises the writers.
type models struct {
	mu  sync.Mutex
	cur atomic.Pointer[catalog]
}

func (ms *models) load() *catalog { return ms.cur.Load() }

// update publishes f's change to a copy of the catalog.
func (ms *models) update(f func(c *catalog)) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	old := ms.cur.Load()
	c := &catalog{byName: make(map[string]*modelInfo, len(old.byName)+1), order: slices.Clone(old.order)}
	for k, v := range old.byName {
		c.byName[k] = v
	}
	f(c)
	ms.cur.Store(c)
}

// handleCopy is CopyHandler: the destination gets the source's manifest
// (same digest and description) and becomes the newest model.
func (s *Server) handleCopy(w http.ResponseWriter, r *http.Request) {
	const ep = "/api/copy"
	var req api.CopyRequest
	if !s.decode(w, r, ep, &req, false) {
		return
	}
	if !s.simpleFaults(w, r, ep, false) {
		return
	}
	if !model.ParseName(req.Source).IsValid() {
		s.nativeError(w, ep, "", http.StatusBadRequest, fmt.Sprintf("source %q is invalid", req.Source))
		return
	}
	if !model.ParseName(req.Destination).IsValid() {
		s.nativeError(w, ep, "", http.StatusBadRequest, fmt.Sprintf("destination %q is invalid", req.Destination))
		return
	}
	src, ok := s.lookup(req.Source)
	if !ok {
		s.nativeError(w, ep, "", http.StatusNotFound, fmt.Sprintf("model %q not found", req.Source))
		return
	}
	dst := *src
	dst.name = NormalizeName(req.Destination)
	dst.modified = s.now().UTC()
	s.sched.add(dst.name)
	s.catalog.update(func(c *catalog) {
		c.order = slices.DeleteFunc(c.order, func(m *modelInfo) bool { return m.name == dst.name })
		c.order = slices.Insert(c.order, 0, &dst)
		c.byName[dst.name] = &dst
	})
	w.WriteHeader(http.StatusOK) // gin: no body, no Content-Type
	s.metrics.request(ep, dst.name, http.StatusOK)
}

// handleDelete is DeleteHandler. A loaded model is also unloaded (once its
// requests finish), so /api/ps never lists a model that no longer exists.
func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request) {
	const ep = "/api/delete"
	var req api.DeleteRequest
	if !s.decode(w, r, ep, &req, false) {
		return
	}
	if !s.simpleFaults(w, r, ep, false) {
		return
	}
	//lint:ignore SA1019 Ollama still accepts the deprecated field (cmp.Or(r.Model, r.Name)).
	name := cmp.Or(req.Model, req.Name)
	if !model.ParseName(name).IsValid() {
		s.nativeError(w, ep, "", http.StatusBadRequest, fmt.Sprintf("name %q is invalid", name))
		return
	}
	m, ok := s.lookup(name)
	if !ok {
		s.nativeError(w, ep, "", http.StatusNotFound, fmt.Sprintf("model '%s' not found", name))
		return
	}
	s.catalog.update(func(c *catalog) {
		c.order = slices.DeleteFunc(c.order, func(x *modelInfo) bool { return x.name == m.name })
		delete(c.byName, m.name)
	})
	s.sched.expire(m.name)
	w.WriteHeader(http.StatusOK)
	s.metrics.request(ep, m.name, http.StatusOK)
}

package bridge

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// fleetTimeout bounds a fan-out GET: a hung instance must not hang /api/tags.
const fleetTimeout = 5 * time.Second

// serveFleetList answers /api/tags, /api/ps and /v1/models as the union over
// every healthy instance, each model once (the first instance's entry wins;
// entries are passed through raw, so fields the bridge does not know survive).
// A credential with a model list sees only its models.
func (h *Handler) serveFleetList(w http.ResponseWriter, r *http.Request, rt *route, who identity) {
	start := h.clock()
	st := h.state.Load()
	bodies := h.fanOutGet(r.Context(), st.pool, rt.path)
	seen := map[string]bool{}
	merged := []json.RawMessage{}
	answered := 0
	for _, b := range bodies {
		if b == nil {
			continue
		}
		answered++
		var doc map[string]json.RawMessage
		if json.Unmarshal(b, &doc) != nil {
			continue
		}
		var items []json.RawMessage
		_ = json.Unmarshal(doc[rt.listKey], &items)
		for _, it := range items {
			var id map[string]json.RawMessage
			if json.Unmarshal(it, &id) != nil {
				continue
			}
			var name string
			_ = json.Unmarshal(id[rt.idKey], &name)
			if name == "" || seen[name] || (who.cred != nil && !who.cred.allowsModel(normalizeModel(name))) {
				continue
			}
			seen[name] = true
			merged = append(merged, it)
		}
	}
	if answered == 0 && len(st.pool.all) > 0 {
		writeError(w, rt.openai, http.StatusBadGateway, errNoUpstream.Error())
		h.finish(r, rt, w.Header().Get("X-Request-Id"), "", http.StatusBadGateway, start, nil, 0, errNoUpstream, nil)
		return
	}
	var out []byte
	if rt.openai {
		out, _ = json.Marshal(map[string]any{"object": "list", "data": merged})
		w.Header().Set("Content-Type", "application/json")
	} else {
		out, _ = json.Marshal(map[string]any{"models": merged})
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	if r.Method != http.MethodHead {
		_, _ = w.Write(out)
	}
	h.finish(r, rt, w.Header().Get("X-Request-Id"), "", http.StatusOK, start, nil, 1, nil, nil) // a fan-out, not retries
}

// fanOutGet GETs path from every healthy instance at once; nil for those
// that failed.
func (h *Handler) fanOutGet(ctx context.Context, p *Pool, path string) [][]byte {
	ctx, cancel := context.WithTimeout(ctx, fleetTimeout)
	defer cancel()
	out := make([][]byte, len(p.all))
	var wg sync.WaitGroup
	for i, u := range p.all {
		if !u.healthy.Load() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.name+path, nil)
			if err != nil {
				return
			}
			resp, err := h.client.Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
			if err == nil && resp.StatusCode == http.StatusOK {
				out[i] = b
			}
		}()
	}
	wg.Wait()
	return out
}

// serveV1Model answers /v1/models/{model} from an instance that has it,
// OpenAI's 404 otherwise (also for a model the credential may not use).
func (h *Handler) serveV1Model(w http.ResponseWriter, r *http.Request, rt *route, who identity) {
	start := h.clock()
	id := w.Header().Get("X-Request-Id")
	name := r.URL.Path[len(rt.path):]
	st := h.state.Load()
	model := normalizeModel(name)
	if who.cred != nil && !who.cred.allowsModel(model) {
		msg := "model '" + name + "' not found"
		writeError(w, true, http.StatusNotFound, msg)
		h.finish(r, rt, id, "", http.StatusNotFound, start, nil, 0, nil, nil)
		return
	}
	if st.pool.fleetTier(model) < 0 {
		st.pool.refreshOnMiss(r.Context(), start.UnixNano())
	}
	for _, u := range st.pool.all {
		if !u.healthy.Load() || u.models.Load().tier(model) < 0 {
			continue
		}
		req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, u.name+r.URL.Path, nil)
		if err != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(r.Context(), fleetTimeout)
		resp, err := h.client.Do(req.WithContext(ctx))
		if err != nil {
			cancel()
			continue
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		cancel()
		if resp.StatusCode != http.StatusOK {
			continue
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		_, _ = w.Write(b)
		h.finish(r, rt, id, "", http.StatusOK, start, u, 1, nil, nil)
		return
	}
	msg := "model '" + name + "' not found"
	writeError(w, true, http.StatusNotFound, msg)
	h.finish(r, rt, id, "", http.StatusNotFound, start, nil, 0, nil, nil)
}

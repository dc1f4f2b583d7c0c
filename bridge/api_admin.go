package bridge

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
)

// serveAdminUpstreams shows each upstream's state: read-only, like nginx's
// status page.
func (h *Handler) serveAdminUpstreams(w http.ResponseWriter, _ *http.Request) {
	st := h.state.Load()
	now := h.clock().UnixNano()
	out := struct {
		InstanceID string   `json:"instance_id"`
		Policy     string   `json:"policy"`
		Draining   bool     `json:"draining"`
		Upstreams  []Status `json:"upstreams"`
	}{st.cfg.InstanceID, st.cfg.Policy, h.draining.Load(), []Status{}}
	for _, u := range st.pool.all {
		out.Upstreams = append(out.Upstreams, u.status(now))
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out)
}

// serveAdminReload is POST /admin/reload: the admin token when one is set,
// else loopback callers only.
func (h *Handler) serveAdminReload(w http.ResponseWriter, r *http.Request) {
	if code, msg := h.adminAllowed(r, true); code != 0 {
		writeError(w, false, code, msg)
		return
	}
	if err := h.Reload(); err != nil {
		writeError(w, false, http.StatusBadRequest, "reload refused, old configuration kept: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"status":"reloaded"}`)
}

// adminAllowed checks the Bearer token; with no token configured, loopbackOK
// lets local callers through (an operator on the host), others get 403.
func (h *Handler) adminAllowed(r *http.Request, loopbackOK bool) (int, string) {
	token := h.state.Load().cfg.AdminToken
	if token == "" {
		// The client, not a trusted proxy on the same host that forwards
		// anyone's request (clientip.go).
		ip := peerAddr(r)
		if h.guard != nil {
			ip = h.guard.addrs.clientIP(r)
		}
		if loopbackOK && ip.IsLoopback() {
			return 0, ""
		}
		return http.StatusForbidden, "management calls are disabled: configure admin_token to enable them"
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
		return http.StatusUnauthorized, "missing or wrong admin token"
	}
	return 0, ""
}

// Reload re-reads the configuration and swaps the pool. A bad configuration
// is refused and the running one keeps serving; upstreams that stay keep
// their state, so no request is dropped.
func (h *Handler) Reload() error {
	h.reloadMu.Lock()
	defer h.reloadMu.Unlock()
	err := h.reload()
	if err != nil {
		h.metrics.reloads.WithLabelValues("failure").Inc()
		h.log.Warn("config reload refused", "error.message", err.Error())
		return err
	}
	h.metrics.reloads.WithLabelValues("success").Inc()
	h.log.Info("config reloaded", "upstreams", len(h.state.Load().pool.all))
	return nil
}

func (h *Handler) reload() error {
	if h.loadCfg == nil {
		return errors.New("no configuration source to reload from")
	}
	cfg, err := h.loadCfg()
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		return err
	}
	old := h.state.Load()
	if guardChanged(&old.cfg, &cfg) {
		h.log.Warn("auth, client_ip, rate_limit, limits and tls changes need a restart; the running ones stay")
	}
	if cfg.Listen != old.cfg.Listen {
		h.log.Warn("listen address changes need a restart; keeping the old one", "listen", old.cfg.Listen)
		cfg.Listen = old.cfg.Listen
	}
	h.swap(cfg)
	return nil
}

// swap installs cfg (validated) with a new pool built from its upstreams and
// the discovered ones. Callers hold reloadMu. Instances that stay keep their
// state; new ones are checked before they take traffic; removed ones get no
// new requests and their in-flight ones finish.
func (h *Handler) swap(cfg Config) {
	old := h.state.Load()
	poolCfg := withDiscovered(cfg, h.discovered)
	pool := newPool(&poolCfg, old.pool, h.client, h.clock)
	kept := map[*Upstream]bool{}
	for _, u := range pool.all {
		kept[u] = true
		if u.m.success == nil {
			h.metrics.bindUpstream(u)
		}
	}
	ctx := h.baseCtx
	if ctx != nil {
		// New instances are checked before they take traffic.
		var fresh []*Upstream
		for _, u := range pool.all {
			if u.models.Load() == nil {
				fresh = append(fresh, u)
			}
		}
		if len(fresh) > 0 {
			(&Pool{all: fresh, health: pool.health, client: pool.client, clock: pool.clock}).checkAll(ctx, true)
		}
		pool.start(ctx)
	}
	h.state.Store(&state{cfg: cfg, pool: pool, budget: newBudget(cfg.Retry)})
	old.pool.stopHealth()
	for _, u := range old.pool.all {
		if kept[u] {
			continue
		}
		// Removed, or replaced because its settings changed: requests in
		// flight finish on their own connections; idle ones go now.
		u.conns.closeIdle()
		if !slices.ContainsFunc(pool.all, func(n *Upstream) bool { return n.name == u.name }) {
			h.metrics.forgetUpstream(u.name)
		}
	}
	h.updateReady()
}

// serveManage fans a management call (pull, push, create, copy, delete) out
// to every healthy instance in turn, streaming each one's progress lines.
// Refused unless an admin token is configured and presented.
func (h *Handler) serveManage(w http.ResponseWriter, r *http.Request, rt *route, id string) {
	start := h.clock()
	// With authentication on, the guard has already required an admin
	// credential (guard.admit).
	if h.guard == nil || h.guard.auth == nil {
		if code, msg := h.adminAllowed(r, false); code != 0 {
			writeError(w, false, code, msg)
			h.finish(r, rt, id, "", code, start, nil, 0, errors.New(msg), nil)
			return
		}
	}
	st := h.state.Load()
	if rt.name == "blobs" {
		h.serveBlob(w, r, rt, id, st, start)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, st.cfg.Server.MaxBodyBytes+1))
	if err != nil || int64(len(body)) > st.cfg.Server.MaxBodyBytes {
		writeError(w, false, http.StatusRequestEntityTooLarge, errBodyTooLarge.Error())
		return
	}
	stream := rt.streams
	if len(body) > 0 {
		p, err := peekBody(body)
		if err != nil {
			writeError(w, false, http.StatusBadRequest, err.Error())
			h.finish(r, rt, id, "", http.StatusBadRequest, start, nil, 0, err, nil)
			return
		}
		if p.streamSet {
			stream = p.stream
		}
	}
	targets := st.pool.healthyUpstreams()
	if len(targets) == 0 {
		writeError(w, false, http.StatusServiceUnavailable, errNoUpstream.Error())
		return
	}
	flusher, _ := w.(http.Flusher)
	if stream {
		_ = http.NewResponseController(w).EnableFullDuplex()
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
	}
	var failures []string
	var lastBody []byte
	lastStatus := http.StatusOK
	for _, u := range targets {
		req, err := http.NewRequestWithContext(r.Context(), r.Method, u.name+r.URL.Path, bytes.NewReader(body))
		if err != nil {
			failures = append(failures, u.name+": "+err.Error())
			continue
		}
		copyHeader(req.Header, r.Header)
		req.Header.Del("Authorization") // the bridge's token is not the upstream's business
		req.Header.Set("X-Request-Id", id)
		resp, err := h.client.Do(req)
		if err != nil {
			failures = append(failures, u.name+": "+err.Error())
			if stream {
				line, _ := streamErrorLine("application/x-ndjson", u.name+": "+err.Error())
				_, _ = w.Write(line)
			}
			continue
		}
		if stream {
			_, cerr := io.Copy(flushWriter{w, flusher}, resp.Body)
			if cerr != nil {
				failures = append(failures, u.name+": "+cerr.Error())
			} else if resp.StatusCode >= 300 {
				failures = append(failures, fmt.Sprintf("%s: status %d", u.name, resp.StatusCode))
			}
		} else {
			lastBody, _ = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			if resp.StatusCode >= 300 {
				lastStatus = resp.StatusCode
				failures = append(failures, fmt.Sprintf("%s: status %d: %s", u.name, resp.StatusCode, bytes.TrimSpace(lastBody)))
			}
		}
		resp.Body.Close()
	}
	code := http.StatusOK
	var ferr error
	if len(failures) > 0 {
		ferr = errors.New(strings.Join(failures, "; "))
		code = http.StatusBadGateway
		if lastStatus >= 400 && lastStatus < 500 && len(failures) == len(targets) {
			code = lastStatus // every instance refused the same request
		}
	}
	switch {
	case stream:
		if ferr != nil {
			line, _ := streamErrorLine("application/x-ndjson", ferr.Error())
			_, _ = w.Write(line)
		}
	case ferr != nil:
		writeError(w, false, code, ferr.Error())
	default:
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(lastBody)
	}
	h.finish(r, rt, id, "", code, start, nil, len(targets), ferr, nil)
}

// flushWriter flushes after every write, for progress lines.
type flushWriter struct {
	w http.ResponseWriter
	f http.Flusher
}

func (fw flushWriter) Write(p []byte) (int, error) {
	n, err := fw.w.Write(p)
	if fw.f != nil {
		fw.f.Flush()
	}
	return n, err
}

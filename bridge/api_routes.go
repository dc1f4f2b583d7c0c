package bridge

import (
	"net/http"
	"strings"
)

// routeKind says how a path is served.
type routeKind int

const (
	kindModel          routeKind = iota // POST with a model: pick an upstream, forward, retry
	kindAny                             // forwarded to any available upstream (/api/version)
	kindRoot                            // "Ollama is running"
	kindFleetList                       // union over the fleet (/api/tags, /api/ps, /v1/models)
	kindV1Model                         // /v1/models/{model}
	kindManage                          // pull, push, create, copy, delete: fanned out, admin only
	kindHealth                          // /health
	kindReady                           // /ready
	kindMetrics                         // /metrics
	kindAdminUpstreams                  // GET /admin/upstreams
	kindAdminReload                     // POST /admin/reload
	kindPprof                           // /debug/pprof/*, when enabled
)

// route is one entry of the fixed route table.
type route struct {
	idx     int // position in routeTable, for metrics children
	name    string
	path    string
	allow   string // the Allow header: methods accepted
	kind    routeKind
	openai  bool // answer errors in OpenAI's form
	streams bool // "stream" omitted means streamed (native generate/chat)
	// nameAlias: an empty "model" falls back to the deprecated "name" key,
	// as Ollama's handler does. The ollama CLI's `show` still sends only
	// "name" (ollama v0.17.4 cmd/cmd.go).
	nameAlias bool
	// tokens: the answer reports generated tokens (eval_count, or
	// usage.completion_tokens on OpenAI routes).
	tokens bool
	// listKey and idKey say how a fleet list is merged: each model once.
	listKey, idKey string
}

// clientTraffic says whether a route serves Ollama clients, as opposed to
// probes, scrapes and admin calls, which latency figures must not include.
func (r *route) clientTraffic() bool {
	switch r.kind {
	case kindHealth, kindReady, kindMetrics, kindAdminUpstreams, kindAdminReload, kindPprof:
		return false
	}
	return true
}

// routeTable is the whole surface of the bridge. The route name is the
// metrics label, so it is bounded by this table.
func routeTable() []route {
	rs := []route{
		{name: "root", path: "/", allow: "GET, HEAD", kind: kindRoot},
		{name: "version", path: "/api/version", allow: "GET, HEAD", kind: kindAny},
		{name: "generate", path: "/api/generate", allow: "POST", kind: kindModel, streams: true, tokens: true},
		{name: "chat", path: "/api/chat", allow: "POST", kind: kindModel, streams: true, tokens: true},
		{name: "embed", path: "/api/embed", allow: "POST", kind: kindModel},
		{name: "embeddings", path: "/api/embeddings", allow: "POST", kind: kindModel},
		{name: "show", path: "/api/show", allow: "POST", kind: kindModel, nameAlias: true},
		{name: "tags", path: "/api/tags", allow: "GET, HEAD", kind: kindFleetList, listKey: "models", idKey: "name"},
		{name: "ps", path: "/api/ps", allow: "GET", kind: kindFleetList, listKey: "models", idKey: "name"},
		{name: "pull", path: "/api/pull", allow: "POST", kind: kindManage, streams: true},
		{name: "push", path: "/api/push", allow: "POST", kind: kindManage, streams: true},
		{name: "create", path: "/api/create", allow: "POST", kind: kindManage, streams: true},
		{name: "copy", path: "/api/copy", allow: "POST", kind: kindManage},
		{name: "delete", path: "/api/delete", allow: "DELETE", kind: kindManage},
		// /api/blobs/{digest}: the upload half of create (api_blobs.go).
		{name: "blobs", path: "/api/blobs/", allow: "HEAD, POST", kind: kindManage},
		{name: "v1_chat", path: "/v1/chat/completions", allow: "POST", kind: kindModel, openai: true, tokens: true},
		{name: "v1_completions", path: "/v1/completions", allow: "POST", kind: kindModel, openai: true, tokens: true},
		{name: "v1_embeddings", path: "/v1/embeddings", allow: "POST", kind: kindModel, openai: true},
		{name: "v1_models", path: "/v1/models", allow: "GET", kind: kindFleetList, openai: true, listKey: "data", idKey: "id"},
		{name: "v1_model", path: "/v1/models/", allow: "GET", kind: kindV1Model, openai: true},
		{name: "health", path: "/health", allow: "GET, HEAD", kind: kindHealth},
		{name: "ready", path: "/ready", allow: "GET, HEAD", kind: kindReady},
		{name: "metrics", path: "/metrics", allow: "GET", kind: kindMetrics},
		{name: "admin_upstreams", path: "/admin/upstreams", allow: "GET", kind: kindAdminUpstreams},
		{name: "admin_reload", path: "/admin/reload", allow: "POST", kind: kindAdminReload},
		{name: "pprof", path: "/debug/pprof/", allow: "GET", kind: kindPprof},
		{name: "other", path: "", allow: "", kind: -1}, // unknown paths, for metrics only
	}
	for i := range rs {
		rs[i].idx = i
	}
	return rs
}

// routes is the lookup built once from routeTable: a map for exact paths,
// one prefix for /v1/models/{model}. Cheaper than a pattern mux on the hot
// path, and it lets the bridge word 404 and 405 itself.
type routes struct {
	byPath  map[string]*route
	v1Model *route
	blobs   *route
	pprof   *route
	other   *route
	all     []route
}

func newRoutes() *routes {
	rs := &routes{byPath: map[string]*route{}, all: routeTable()}
	for i := range rs.all {
		r := &rs.all[i]
		switch {
		case r.kind == kindV1Model:
			rs.v1Model = r
		case r.name == "blobs":
			rs.blobs = r
		case r.kind == kindPprof:
			rs.pprof = r
		case r.path == "":
			rs.other = r
		default:
			rs.byPath[r.path] = r
		}
	}
	return rs
}

func (rs *routes) lookup(path string) *route {
	if r, ok := rs.byPath[path]; ok {
		return r
	}
	if len(path) > len(rs.v1Model.path) && strings.HasPrefix(path, rs.v1Model.path) {
		return rs.v1Model
	}
	if len(path) > len(rs.blobs.path) && strings.HasPrefix(path, rs.blobs.path) {
		return rs.blobs
	}
	if strings.HasPrefix(path, rs.pprof.path) {
		return rs.pprof
	}
	return nil
}

// methodAllowed also accepts HEAD where GET is allowed.
func (r *route) methodAllowed(m string) bool {
	switch r.allow {
	case "POST":
		return m == http.MethodPost
	case "GET":
		return m == http.MethodGet
	case "DELETE":
		return m == http.MethodDelete
	case "GET, HEAD":
		return m == http.MethodGet || m == http.MethodHead
	case "HEAD, POST":
		return m == http.MethodHead || m == http.MethodPost
	}
	return false
}

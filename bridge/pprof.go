package bridge

import (
	"net/http"
	"net/http/pprof"
	"strings"
)

// servePprof serves the runtime profiles (config pprof: true), wired by
// hand rather than through net/http/pprof's init, which registers on the
// global DefaultServeMux.
func servePprof(w http.ResponseWriter, r *http.Request) {
	switch name := strings.TrimPrefix(r.URL.Path, "/debug/pprof/"); name {
	case "profile":
		pprof.Profile(w, r)
	case "trace":
		pprof.Trace(w, r)
	case "symbol":
		pprof.Symbol(w, r)
	case "cmdline":
		pprof.Cmdline(w, r)
	case "":
		pprof.Index(w, r)
	default:
		pprof.Handler(name).ServeHTTP(w, r)
	}
}

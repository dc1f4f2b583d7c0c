package ollamasim

import (
	"net/http"
	"slices"
	"strings"
)

// Ollama's CORS policy: gin-contrib/cors v1.7.2 as server/routes.go
// GenerateRoutes configures it (DefaultConfig, wildcards and browser
// extensions allowed, its own AllowHeaders), with envconfig.AllowedOrigins.
const (
	corsAllowMethods = "GET,POST,PUT,PATCH,DELETE,HEAD,OPTIONS"
	corsAllowHeaders = "Authorization,Content-Type,User-Agent,Accept,X-Requested-With,Openai-Beta," +
		"X-Stainless-Arch,X-Stainless-Async,X-Stainless-Custom-Poll-Interval,X-Stainless-Helper-Method," +
		"X-Stainless-Lang,X-Stainless-Os,X-Stainless-Package-Version,X-Stainless-Poll-Helper," +
		"X-Stainless-Retry-Count,X-Stainless-Runtime,X-Stainless-Runtime-Version,X-Stainless-Timeout"
	corsMaxAge = "43200" // DefaultConfig's 12 h, in seconds
)

// corsPolicy is the compiled list of allowed origins.
type corsPolicy struct {
	exact     []string    // lower-cased, as cors.normalize leaves them
	wildcards [][2]string // prefix, suffix around the one "*" ("*" for an open end)
}

// allowedOrigins is envconfig.AllowedOrigins: OLLAMA_ORIGINS (extra), then
// localhost, 127.0.0.1 and 0.0.0.0 on any port, then app and editor schemes.
func allowedOrigins(extra []string) []string {
	out := slices.Clone(extra)
	for _, o := range []string{"localhost", "127.0.0.1", "0.0.0.0"} {
		out = append(out, "http://"+o, "https://"+o, "http://"+o+":*", "https://"+o+":*")
	}
	return append(out, "app://*", "file://*", "tauri://*", "vscode-webview://*", "vscode-file://*")
}

func newCORSPolicy(extra []string) corsPolicy {
	var p corsPolicy
	for _, o := range allowedOrigins(extra) {
		o = strings.ToLower(strings.TrimSpace(o))
		i := strings.IndexByte(o, '*')
		switch {
		case i < 0:
			p.exact = append(p.exact, o)
		case i == 0:
			p.wildcards = append(p.wildcards, [2]string{"*", o[1:]})
		case i == len(o)-1:
			p.wildcards = append(p.wildcards, [2]string{o[:i], "*"})
		default:
			p.wildcards = append(p.wildcards, [2]string{o[:i], o[i+1:]})
		}
	}
	return p
}

// allows is cors.validateOrigin: the Origin as sent (not lower-cased).
func (p corsPolicy) allows(origin string) bool {
	if slices.Contains(p.exact, origin) {
		return true
	}
	for _, w := range p.wildcards {
		switch {
		case w[0] == "*" && strings.HasSuffix(origin, w[1]),
			w[1] == "*" && strings.HasPrefix(origin, w[0]),
			strings.HasPrefix(origin, w[0]) && strings.HasSuffix(origin, w[1]):
			return true
		}
	}
	return false
}

// apply runs the middleware before routing. It reports whether the request
// was answered: 403 with no body for a foreign origin, 204 for a preflight
// (with the Allow header gin's 405 path sets first when the path exists but
// OPTIONS is not one of its methods). Otherwise it adds the headers of an
// allowed cross-origin request and lets the handler answer.
func (p corsPolicy) apply(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "http://"+r.Host || origin == "https://"+r.Host {
		return false // not a CORS request
	}
	h := w.Header()
	if !p.allows(origin) {
		w.WriteHeader(http.StatusForbidden)
		return true
	}
	if r.Method == http.MethodOptions {
		if rt, ok := routeFor(r.URL.Path); ok {
			h.Set("Allow", rt.allow)
		}
		h.Set("Access-Control-Allow-Methods", corsAllowMethods)
		h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		h.Set("Access-Control-Max-Age", corsMaxAge)
		h["Vary"] = []string{"Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"}
		h.Set("Access-Control-Allow-Origin", origin)
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	h.Set("Vary", "Origin")
	h.Set("Access-Control-Allow-Origin", origin)
	return false
}

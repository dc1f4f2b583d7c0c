package bridge

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path"
	"strings"

	"go.yaml.in/yaml/v3"
)

// credential is what a verified API key or token grants. Immutable.
type credential struct {
	// tenant names the holder ("key:NAME", "jwt:SUB") for limits, the cache
	// and logs: never the secret itself.
	tenant string
	admin  bool
	// models the holder may use (exact names, normalised, or path.Match
	// patterns such as "llama3*"); nil: every model.
	models []string
	// Per-credential bucket sizes; zero: rate_limit.per_credential's.
	limits BucketPair
}

// allowsModel says whether the credential may use model (normalised).
func (c *credential) allowsModel(model string) bool {
	if c.models == nil {
		return true
	}
	for _, m := range c.models {
		if m == model || m == "*" {
			return true
		}
		if ok, _ := path.Match(m, model); ok {
			return true
		}
	}
	return false
}

// authReason is why a credential was refused: the label of
// bridge_auth_rejections_total and the client's message. Fixed strings, so
// nothing the client sent (the token above all) reaches a log line.
type authReason string

const (
	reasonMissing     authReason = "missing"
	reasonMalformed   authReason = "malformed"
	reasonOversized   authReason = "oversized"
	reasonUnknownKey  authReason = "unknown_key"
	reasonSignature   authReason = "signature"
	reasonAlgorithm   authReason = "algorithm"
	reasonExpired     authReason = "expired"
	reasonNotYetValid authReason = "not_yet_valid"
	reasonAudience    authReason = "audience"
	reasonIssuer      authReason = "issuer"
	reasonInvalid     authReason = "invalid"
	reasonIPDenied    authReason = "ip_not_allowed"
	reasonModel       authReason = "model_not_allowed"
	reasonNotAdmin    authReason = "not_admin"
)

// authReasons lists every reason, so the counters exist from the start.
var authReasons = []authReason{reasonMissing, reasonMalformed, reasonOversized, reasonUnknownKey, reasonSignature,
	reasonAlgorithm, reasonExpired, reasonNotYetValid, reasonAudience, reasonIssuer, reasonInvalid, reasonIPDenied,
	reasonModel, reasonNotAdmin}

// authError is a refused credential.
type authError struct{ reason authReason }

func (e *authError) Error() string { return "credential refused: " + string(e.reason) }

// authenticator checks the Authorization header against the static API
// keys first (one hash and a map look-up), then as a JWT.
type authenticator struct {
	keys  map[[sha256.Size]byte]*credential // by SHA-256 of the key
	jwt   *jwtVerifier                      // nil: no JWTs
	admin []byte                            // admin_token, also an admin credential
}

// bearer returns the Authorization header's Bearer credential.
func bearer(r *http.Request) (string, bool) {
	v := r.Header.Get("Authorization")
	if len(v) < 7 || !strings.EqualFold(v[:7], "Bearer ") {
		return "", false
	}
	s := strings.TrimSpace(v[7:])
	return s, s != ""
}

// authenticate returns the request's credential or why there is none.
func (a *authenticator) authenticate(r *http.Request) (*credential, *authError) {
	tok, ok := bearer(r)
	if !ok {
		if r.Header.Get("Authorization") != "" {
			return nil, &authError{reasonMalformed}
		}
		return nil, &authError{reasonMissing}
	}
	if len(a.admin) > 0 && subtle.ConstantTimeCompare([]byte(tok), a.admin) == 1 {
		return adminTokenCredential, nil
	}
	if len(a.keys) > 0 {
		// Look-up by hash: the time taken does not depend on how much of
		// a key matched.
		if c, ok := a.keys[sha256.Sum256([]byte(tok))]; ok {
			return c, nil
		}
	}
	if a.jwt != nil {
		return a.jwt.verify(r.Context(), tok)
	}
	return nil, &authError{reasonInvalid}
}

var adminTokenCredential = &credential{tenant: "admin", admin: true}

// apiKeyFile is --api-key-file: a YAML list of keys, each a name (its
// tenant), the key or its SHA-256, and what it may do.
//
//	keys:
//	  - name: team-a
//	    key: "sk-…"              # or sha256: <hex of the key>
//	    admin: false
//	    models: [tiny, "llama3*"] # omitted: all models
//	    requests_per_minute: 0    # 0: rate_limit.per_credential's
//	    burst: 0
//	    tokens_per_minute: 0
type apiKeyFile struct {
	Keys []struct {
		Name              string   `yaml:"name"`
		Key               string   `yaml:"key"`
		SHA256            string   `yaml:"sha256"`
		Admin             bool     `yaml:"admin"`
		Models            []string `yaml:"models"`
		RequestsPerMinute int      `yaml:"requests_per_minute"`
		Burst             int      `yaml:"burst"`
		TokensPerMinute   int      `yaml:"tokens_per_minute"`
	} `yaml:"keys"`
}

// loadAPIKeys reads the key file. Errors name the entry, never the key.
func loadAPIKeys(file string) (map[[sha256.Size]byte]*credential, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var kf apiKeyFile
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(&kf); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	out := map[[sha256.Size]byte]*credential{}
	names := map[string]bool{}
	for i, k := range kf.Keys {
		if k.Name == "" || names[k.Name] {
			return nil, fmt.Errorf("%s: keys[%d]: want a unique name", file, i)
		}
		names[k.Name] = true
		var sum [sha256.Size]byte
		switch {
		case k.Key != "" && k.SHA256 == "":
			if len(k.Key) < 16 {
				return nil, fmt.Errorf("%s: key %q: want at least 16 characters", file, k.Name)
			}
			sum = sha256.Sum256([]byte(k.Key))
		case k.SHA256 != "" && k.Key == "":
			b, err := hex.DecodeString(k.SHA256)
			if err != nil || len(b) != sha256.Size {
				return nil, fmt.Errorf("%s: key %q: sha256 wants 64 hex digits", file, k.Name)
			}
			copy(sum[:], b)
		default:
			return nil, fmt.Errorf("%s: key %q: want key or sha256, not both", file, k.Name)
		}
		if _, dup := out[sum]; dup {
			return nil, fmt.Errorf("%s: key %q: the same key is listed twice", file, k.Name)
		}
		c := &credential{tenant: "key:" + k.Name, admin: k.Admin,
			limits: BucketPair{RequestsPerMinute: k.RequestsPerMinute, Burst: k.Burst, TokensPerMinute: k.TokensPerMinute}}
		if k.Models != nil {
			c.models = normalizeModels(k.Models)
		}
		out[sum] = c
	}
	if len(out) == 0 {
		return nil, errors.New(file + ": no keys")
	}
	return out, nil
}

// normalizeModels makes allow-list entries comparable with request models
// ("tiny" → "tiny:latest"); patterns are kept as written.
func normalizeModels(ms []string) []string {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		if !strings.ContainsAny(m, "*?[") {
			m = normalizeModel(m)
		}
		out = append(out, m)
	}
	return out
}

package bridge

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// jwtVerifier checks bearer JWTs: the algorithm is one of the pinned ones
// (alg:none and an HMAC token made with a public key as its secret never
// pass), the signature is good, exp is present and not past, nbf not in the
// future (both with the leeway), aud and iss are ours. Any failure is a
// rejection: there is no "expired but otherwise fine".
type jwtVerifier struct {
	parser     *jwt.Parser
	algs       []string
	static     any   // the key file's key; nil with a JWKS
	jwks       *jwks // nil with a key file
	maxBytes   int
	adminScope string
}

// tokenClaims are the claims the bridge reads: the registered ones, the
// space-separated scope (admin), and the models the holder may use.
type tokenClaims struct {
	jwt.RegisteredClaims
	Scope  string   `json:"scope"`
	Models []string `json:"models"`
}

var errUnknownKID = errors.New("no key with this kid")

func newJWTVerifier(c JWTConfig, keys *jwks) (*jwtVerifier, error) {
	v := &jwtVerifier{jwks: keys, maxBytes: c.MaxTokenBytes, adminScope: c.AdminScope, algs: c.Algorithms}
	if keys == nil {
		key, alg, err := loadJWTKey(c.Key)
		if err != nil {
			return nil, err
		}
		v.static = key
		if len(v.algs) == 0 {
			v.algs = []string{alg}
		}
		for _, a := range v.algs {
			if !algFitsKey(a, key) {
				return nil, fmt.Errorf("auth.jwt.algorithms: %s does not fit the key in %s", a, c.Key)
			}
		}
	} else if len(v.algs) == 0 {
		v.algs = []string{"RS256"}
	}
	for _, a := range v.algs {
		if strings.HasPrefix(a, "HS") && keys != nil {
			return nil, errors.New("auth.jwt.algorithms: HMAC needs a secret from a file, not a JWKS")
		}
	}
	v.parser = jwt.NewParser(jwt.WithValidMethods(v.algs), jwt.WithLeeway(c.Leeway), jwt.WithExpirationRequired(),
		jwt.WithAudience(c.Audience), jwt.WithIssuer(c.Issuer))
	return v, nil
}

// verify returns the token's credential, or the reason it is refused.
func (v *jwtVerifier) verify(ctx context.Context, tok string) (*credential, *authError) {
	if len(tok) > v.maxBytes {
		return nil, &authError{reasonOversized}
	}
	if strings.Count(tok, ".") != 2 {
		return nil, &authError{reasonMalformed}
	}
	var c tokenClaims
	t, err := v.parser.ParseWithClaims(tok, &c, func(t *jwt.Token) (any, error) {
		if v.jwks == nil {
			return v.static, nil
		}
		kid, _ := t.Header["kid"].(string)
		k, err := v.jwks.get(ctx, kid)
		if err != nil {
			return nil, err
		}
		if k.alg != "" && k.alg != t.Method.Alg() {
			return nil, fmt.Errorf("key %q is for %s", kid, k.alg)
		}
		return k.key, nil
	})
	if err != nil {
		return nil, &authError{classifyJWTError(t, err, v.algs)}
	}
	if c.Subject == "" {
		return nil, &authError{reasonInvalid}
	}
	cred := &credential{tenant: "jwt:" + c.Subject, admin: slices.Contains(strings.Fields(c.Scope), v.adminScope)}
	if c.Models != nil {
		cred.models = normalizeModels(c.Models)
	}
	return cred, nil
}

// classifyJWTError maps the library's error to a reason (a metrics label).
func classifyJWTError(t *jwt.Token, err error, algs []string) authReason {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return reasonMalformed
	case errors.Is(err, jwt.ErrTokenSignatureInvalid) && t != nil && t.Method != nil && !slices.Contains(algs, t.Method.Alg()):
		return reasonAlgorithm
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return reasonSignature
	case errors.Is(err, errUnknownKID):
		return reasonUnknownKey
	case errors.Is(err, jwt.ErrTokenExpired):
		return reasonExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return reasonNotYetValid
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return reasonAudience
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return reasonIssuer
	}
	return reasonInvalid
}

// loadJWTKey reads a PEM public key (or certificate) or an HMAC secret,
// and the algorithm it implies.
func loadJWTKey(file string) (any, string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, "", err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		secret := bytes.TrimRight(b, "\r\n")
		if len(secret) < 32 {
			return nil, "", fmt.Errorf("%s: not a PEM public key, and too short for an HMAC secret (want >= 32 bytes)", file)
		}
		return secret, "HS256", nil
	}
	var key any
	switch block.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
			key = cert.PublicKey
		}
	default:
		return nil, "", fmt.Errorf("%s: PEM %q: want the PUBLIC KEY (never the private one)", file, block.Type)
	}
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", file, err)
	}
	switch k := key.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, "", fmt.Errorf("%s: RSA key of %d bits: want >= 2048", file, k.N.BitLen())
		}
		return k, "RS256", nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return k, "ES256", nil
		case elliptic.P384():
			return k, "ES384", nil
		case elliptic.P521():
			return k, "ES512", nil
		}
	case ed25519.PublicKey:
		return k, "EdDSA", nil
	}
	return nil, "", fmt.Errorf("%s: unsupported key type %T", file, key)
}

// algFitsKey says whether alg verifies with key's type (an RSA key never
// serves as an HMAC secret).
func algFitsKey(alg string, key any) bool {
	switch k := key.(type) {
	case []byte:
		return strings.HasPrefix(alg, "HS")
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		want := map[string]string{"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}[k.Curve.Params().Name]
		return alg == want
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

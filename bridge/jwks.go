package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// jwks holds the signing keys published at a JWKS URL, by kid. It is
// re-fetched every refresh, and also when a token names a kid it does not
// know (the issuer rotated), but at most once per minInterval: a flood of
// made-up kids costs one fetch per interval, not one per request.
type jwks struct {
	url         string
	client      *http.Client
	refresh     time.Duration
	minInterval time.Duration
	clock       func() time.Time
	log         *slog.Logger
	fetches     func(ok bool) // counts fetches for the metrics

	keys atomic.Pointer[map[string]jwk]

	mu   sync.Mutex // one fetch at a time; held while fetching
	last time.Time  // the last fetch attempt
}

// jwk is one verification key and the algorithm it is pinned to ("" any
// of the configured ones).
type jwk struct {
	key any
	alg string
}

func newJWKS(c JWTConfig, client *http.Client, clock func() time.Time, log *slog.Logger, fetches func(bool)) *jwks {
	j := &jwks{url: c.Key, client: client, refresh: c.JWKSRefresh, minInterval: c.JWKSMinInterval, clock: clock,
		log: log, fetches: fetches}
	j.keys.Store(&map[string]jwk{})
	return j
}

// get returns the key named kid, fetching the set again if kid is unknown
// and the last fetch is older than minInterval. Requests for a kid being
// fetched wait for that one fetch.
func (j *jwks) get(ctx context.Context, kid string) (jwk, error) {
	if k, ok := j.lookup(kid); ok {
		return k, nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if k, ok := j.lookup(kid); ok {
		return k, nil
	}
	if j.clock().Sub(j.last) < j.minInterval {
		return jwk{}, errUnknownKID
	}
	if err := j.fetchLocked(ctx); err != nil {
		j.log.Warn("JWKS fetch failed", "url.full", j.url, "error.message", err.Error())
	}
	if k, ok := j.lookup(kid); ok {
		return k, nil
	}
	return jwk{}, errUnknownKID
}

// lookup finds kid; a token without one matches a set of exactly one key.
func (j *jwks) lookup(kid string) (jwk, bool) {
	m := *j.keys.Load()
	if kid == "" && len(m) == 1 {
		for _, k := range m {
			return k, true
		}
	}
	k, ok := m[kid]
	return k, ok
}

// run fetches now and then every refresh until ctx ends.
func (j *jwks) run(ctx context.Context) {
	t := time.NewTicker(j.refresh)
	defer t.Stop()
	for {
		j.mu.Lock()
		if err := j.fetchLocked(ctx); err != nil && ctx.Err() == nil {
			j.log.Warn("JWKS fetch failed; keeping the keys known so far", "url.full", j.url, "error.message", err.Error())
		}
		j.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// fetchLocked replaces the key set with what the URL serves now. A
// failed fetch keeps the old set. Keys of a type or use the bridge cannot
// verify with are skipped, not fatal.
func (j *jwks) fetchLocked(ctx context.Context) error {
	j.last = j.clock()
	// Detached from the request: its client leaving must not abort a
	// fetch that others wait for.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := j.fetch(ctx)
	j.fetches(err == nil)
	return err
}

func (j *jwks) fetch(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := j.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return err
	}
	m := map[string]jwk{}
	for _, r := range raw.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(r); err != nil || !k.Valid() || (k.Use != "" && k.Use != "sig") {
			continue
		}
		if !k.IsPublic() {
			if pk := k.Public(); pk.Key != nil {
				k = pk // a private key published by mistake: use its public half
			} else {
				continue // symmetric keys do not belong in a JWKS
			}
		}
		m[k.KeyID] = jwk{key: k.Key, alg: k.Algorithm}
	}
	if len(m) == 0 {
		return errors.New("no usable signing key in the set")
	}
	j.keys.Store(&m)
	return nil
}

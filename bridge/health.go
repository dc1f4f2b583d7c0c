package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// runHealth is one instance's active checker: GET /api/ps every interval
// (cheap, and it says which models are loaded), GET /api/tags every
// models_interval. UnhealthyAfter misses in a row take the instance out and
// cut loose the attempts waiting on it; HealthyAfter successes bring it back.
// Only /api/ps decides health: a failed /api/tags keeps the last model list
// and is tried again at the next check, since stale fleet knowledge must
// never take a live instance out.
func (p *Pool) runHealth(ctx context.Context, u *Upstream) {
	t := time.NewTicker(p.health.Interval)
	defer t.Stop()
	var okStreak, failStreak int
	lastTags := p.clock()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		withTags := p.clock().Sub(lastTags) >= p.health.ModelsInterval
		tagsOK, err := p.check(ctx, u, withTags)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			okStreak = 0
			failStreak++
			if failStreak >= p.health.UnhealthyAfter {
				u.markDead()
			}
			continue
		}
		if tagsOK {
			lastTags = p.clock()
		}
		failStreak = 0
		okStreak++
		if okStreak >= p.health.HealthyAfter {
			u.markAlive()
		}
	}
}

// checkAll checks every instance at once and waits; at start-up and on a
// model miss. A failure at start-up takes the instance out at once.
func (p *Pool) checkAll(ctx context.Context, withTags bool) {
	var wg sync.WaitGroup
	for _, u := range p.all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.check(ctx, u, withTags); err != nil {
				if u.models.Load() == nil {
					u.markDead()
				}
			}
		}()
	}
	wg.Wait()
}

// check polls /api/ps (and /api/tags), each within the health time-out, and
// stores what it learned. err is /api/ps's: whether the instance answers.
// tagsOK says whether /api/tags was asked and answered.
func (p *Pool) check(ctx context.Context, u *Upstream, withTags bool) (tagsOK bool, err error) {
	psCtx, cancel := context.WithTimeout(ctx, p.health.Timeout)
	loaded, err := p.listModels(psCtx, u, "/api/ps")
	cancel()
	if err != nil {
		return false, err
	}
	prev := u.models.Load()
	ms := &modelSet{loaded: loaded, onDisk: map[string]struct{}{}}
	if prev != nil {
		ms.onDisk, ms.known = prev.onDisk, prev.known
	}
	if withTags {
		tagsCtx, cancel := context.WithTimeout(ctx, p.health.Timeout)
		onDisk, err := p.listModels(tagsCtx, u, "/api/tags")
		cancel()
		if err == nil {
			ms.onDisk, ms.known, tagsOK = onDisk, true, true
		}
	}
	for m := range loaded {
		if _, ok := ms.onDisk[m]; !ok {
			// Loaded implies on disk; copy rather than write into a shared map.
			cp := make(map[string]struct{}, len(ms.onDisk)+len(loaded))
			for k := range ms.onDisk {
				cp[k] = struct{}{}
			}
			for k := range loaded {
				cp[k] = struct{}{}
			}
			ms.onDisk = cp
			break
		}
	}
	u.models.Store(ms)
	return tagsOK, nil
}

// listModels reads the names out of /api/tags or /api/ps.
func (p *Pool) listModels(ctx context.Context, u *Upstream, path string) (map[string]struct{}, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.name+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("%s%s: status %d", u.name, path, resp.StatusCode)
	}
	var list struct {
		Models []struct {
			Name  string `json:"name"`
			Model string `json:"model"`
		} `json:"models"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(&list); err != nil {
		return nil, fmt.Errorf("%s%s: %w", u.name, path, err)
	}
	out := make(map[string]struct{}, len(list.Models))
	for _, m := range list.Models {
		n := m.Name
		if n == "" {
			n = m.Model
		}
		out[normalizeModel(n)] = struct{}{}
	}
	return out, nil
}

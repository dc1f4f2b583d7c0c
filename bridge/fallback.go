package bridge

// pickFallback is the last resort when pick found nobody for a request that
// has made no attempt yet: every upstream is out (health check, passive
// check or breaker), or the ones that are in are known not to have the model.
// Refusing would turn a failure of the bridge's knowledge — a checker that
// stalled with the machine, failures counted while the fleet was paused, a
// stale model list — into an outage while the instances may well be alive.
// Like nginx, which still tries its servers when all are marked failed, the
// bridge then tries one instance once (no retry) and lets it answer:
//
//   - still within max_in_flight (a full instance is capacity, not failure);
//   - alive by the active check before dead ones;
//   - known to have the model (or unknown) before known not to;
//   - then the least recently failed, so that under load successive
//     requests spread over the fleet as each failure moves the next one on.
//
// A success forgives the instance (Upstream.forgive) and normal selection
// resumes. nil only when the pool is empty or every instance is full.
func (p *Pool) pickFallback(r *request) *Upstream {
	var best *Upstream
	var bestHealthy, bestModel bool
	var bestFail int64
	n := len(p.all)
	start := int(p.fallbackNext.Add(1)) % max(n, 1)
	for i := 0; i < n; i++ {
		u := p.all[(start+i)%n]
		if m := int64(u.cfg.MaxInFlight); m > 0 && u.inFlight.Load() >= m {
			continue
		}
		healthy := u.healthy.Load()
		model := r.model == "" || u.models.Load().tier(r.model) >= 0
		fail := u.lastFail.Load()
		if best != nil {
			if healthy != bestHealthy {
				if !healthy {
					continue
				}
			} else if model != bestModel {
				if !model {
					continue
				}
			} else if fail >= bestFail {
				continue
			}
		}
		best, bestHealthy, bestModel, bestFail = u, healthy, model, fail
	}
	return best
}

// ignoreOutcome stands in for a breaker's done when a fallback attempt went
// through an open breaker: gobreaker has no slot to report to.
func ignoreOutcome(error) {}

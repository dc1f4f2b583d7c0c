package bridge

import (
	"errors"

	"github.com/sony/gobreaker/v2"
)

// breaker is one upstream's circuit breaker: Failures consecutive failures
// open it for OpenFor, then HalfOpenRequests probes close or reopen it. It is
// gobreaker's two-step form because a proxy learns the outcome only when a
// stream ends.
type breaker struct {
	cb *gobreaker.TwoStepCircuitBreaker[struct{}]
}

// errAttemptFailed is what a failed attempt reports to gobreaker; any non-nil
// error counts as a failure.
var errAttemptFailed = errors.New("attempt failed")

func newBreaker(name string, c BreakerConfig, onChange func(gobreaker.State)) *breaker {
	failures := uint32(c.Failures)
	return &breaker{cb: gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        name,
		MaxRequests: uint32(c.HalfOpenRequests),
		// Interval 0: counts reset only on a state change or a success, so
		// "consecutive" means consecutive.
		Timeout:     c.OpenFor,
		ReadyToTrip: func(n gobreaker.Counts) bool { return n.ConsecutiveFailures >= failures },
		OnStateChange: func(_ string, _, to gobreaker.State) {
			// Runs with gobreaker's mutex held: only set an atomic here.
			if onChange != nil {
				onChange(to)
			}
		},
	})}
}

// open reports whether the breaker refuses requests now. It does not consume a
// half-open probe slot.
func (b *breaker) open() bool { return b.cb.State() == gobreaker.StateOpen }

// allow takes a slot; done(nil) records a success, done(err) a failure.
// gobreaker's own done func is returned as is: no wrapper to allocate.
func (b *breaker) allow() (func(error), bool) {
	done, err := b.cb.Allow()
	return done, err == nil
}

func (b *breaker) state() gobreaker.State { return b.cb.State() }

// stateValue is the number bridge_upstream_circuit_state shows: 0 closed,
// 1 half-open, 2 open.
func stateValue(s gobreaker.State) float64 {
	switch s {
	case gobreaker.StateHalfOpen:
		return 1
	case gobreaker.StateOpen:
		return 2
	}
	return 0
}

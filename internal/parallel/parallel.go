// Package parallel runs one function per item at once, for the harness and
// the container cluster, which start many processes or containers whose
// readiness waits would add up if done one after another.
package parallel

import (
	"errors"
	"sync"
)

// Each calls fn for every item concurrently, waits for all of them, and
// returns their errors joined (nil when all succeeded).
func Each[T any](items []T, fn func(T) error) error {
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	for i, it := range items {
		wg.Go(func() { errs[i] = fn(it) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

package bench

import (
	"strconv"
	"strings"

	"github.com/dsbridge/dsbridge/scenarios"
)

// simFlags are the `dsbridge sim` flags for the scenario's sims, after
// --listen, which each runtime sets its own way. Both runtimes build them
// here so that a sims key the scenario gains reaches local and docker runs
// alike.
func simFlags(sims scenarios.Sims, seed int64) []string {
	a := []string{"--seed", strconv.FormatInt(seed, 10)}
	if sims.Profile != "" {
		a = append(a, "--profile", sims.Profile)
	}
	if len(sims.Models) > 0 {
		a = append(a, "--models", strings.Join(sims.Models, ","))
	}
	if sims.Parallel > 0 {
		a = append(a, "--parallel", strconv.Itoa(sims.Parallel))
	}
	if sims.MaxQueue > 0 {
		a = append(a, "--max-queue", strconv.Itoa(sims.MaxQueue))
	}
	return append(a, sims.Args...)
}

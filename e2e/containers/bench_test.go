package containers

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dsbridge/dsbridge/bench"
	"github.com/dsbridge/dsbridge/cluster"
	"github.com/dsbridge/dsbridge/images"
	"github.com/dsbridge/dsbridge/internal/testproc"
	"github.com/dsbridge/dsbridge/scenarios"
)

// The shipped failover-kill scenario, in containers: sim-1's container is
// SIGKILLed (docker kill) 10 s in and started again 8 s later; the gates
// (errors < 1 %, p99 < 1 s, failover < 3 s) hold.
func TestFailoverKillInContainers(t *testing.T) {
	res := runScenario(t, "failover-kill")
	if len(res.Chaos) != 1 || res.Chaos[0].Error != "" || res.Chaos[0].RevertedS == 0 {
		t.Errorf("the kill and its restart did not both happen: %+v", res.Chaos)
	}
}

// One sim container off the network for 10 s under load: the bridges route
// around it, and it costs latency, not errors. Its share of the traffic
// shows it really was out.
func TestPartitionCostsLatencyNotErrors(t *testing.T) {
	res := runScenario(t, "partition")
	if res.Requests.Failed > 0 {
		t.Errorf("%d of %d requests failed during the partition; want none (errors: %v)", res.Requests.Failed, res.Requests.Total, res.Errors)
	}
	share := map[string]float64{}
	for _, u := range res.Upstreams {
		share[u.Name] = u.Share
	}
	if share["sim-1"] >= min(share["sim-2"], share["sim-3"]) {
		t.Errorf("sim-1 took %.2f of the traffic, no less than the others (%v): was it partitioned?", share["sim-1"], share)
	}
}

// Two bridge containers behind nginx, restarted one after the other under
// load (docker stop: SIGTERM, the bridge drains; docker start): nothing is
// dropped.
func TestRollingRestartBehindNginxDropsNothing(t *testing.T) {
	res := runScenario(t, "rolling-restart")
	if res.Requests.Failed > 0 {
		t.Errorf("%d of %d requests failed during the rolling restart; want none (errors: %v)", res.Requests.Failed, res.Requests.Total, res.Errors)
	}
	if len(res.Chaos) != 1 || res.Chaos[0].Error != "" || len(res.Chaos[0].Targets) != 2 {
		t.Errorf("the rolling restart did not restart both bridges: %+v", res.Chaos)
	}
}

// Every container action on one timeline (the shipped container-faults
// scenario): docker pause of sim-1, a tenth of a CPU for sim-2, an OOM kill
// of sim-3 and its restart. Each takes effect (the injectors return only
// once it has: the OOM one when the container's state says OOMKilled) and
// is undone, and the gates hold.
func TestContainerFaultsOnTheTimeline(t *testing.T) {
	res := runScenario(t, "container-faults")
	if len(res.Chaos) != 3 {
		t.Fatalf("want 3 chaos events, got %+v", res.Chaos)
	}
	for _, e := range res.Chaos {
		if e.Error != "" || e.RevertedS == 0 {
			t.Errorf("%s %s: error %q, reverted at %.1fs", e.Action, e.Target, e.Error, e.RevertedS)
		}
	}
}

// A run interrupted under load (as Ctrl-C does: its context ends) is
// reported broken and removes every container and network it started.
func TestInterruptedRunLeavesNothing(t *testing.T) {
	requireDocker(t)
	sc, err := scenarios.Load("failover-kill")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// The first progress line comes once the load runs: interrupt then.
	interrupt := writerFunc(func(p []byte) (int, error) { cancel(); return len(p), nil })
	_, err = bench.Run(ctx, bench.Options{Scenario: sc, OutDir: t.TempDir(), Binary: testproc.Binary(t), Runtime: bench.RuntimeDocker,
		Progress: interrupt, ProgressEvery: time.Second})
	if !errors.Is(err, bench.ErrBroken) {
		t.Fatalf("interrupted run: %v; want ErrBroken", err)
	}
	docker, err := images.NewDockerClient()
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()
	if left, err := cluster.Owned(context.Background(), docker); err != nil || len(left) > 0 {
		t.Fatalf("left behind by the interrupted run: %v %v", left, err)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

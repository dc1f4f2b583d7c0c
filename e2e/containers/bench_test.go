package containers

import "testing"

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

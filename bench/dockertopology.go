package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/dsbridge/dsbridge/cluster"
	"github.com/dsbridge/dsbridge/images"
	"github.com/dsbridge/dsbridge/scenarios"
)

// Runtimes of a bench run.
const (
	RuntimeLocal  = "local"
	RuntimeDocker = "docker"
)

// checkRuntime rejects what a runtime cannot do before anything starts.
func checkRuntime(sc *scenarios.Scenario, runtime string) error {
	switch runtime {
	case "", RuntimeLocal:
		if sc.Topology.Ollamas.Count > 0 {
			return errors.New("topology.ollamas needs --runtime docker")
		}
		for i, e := range sc.Chaos {
			if slices.Contains(scenarios.ContainerActions, e.Action) {
				return fmt.Errorf("chaos[%d] %s acts on containers: run with --runtime docker", i, e.Action)
			}
		}
	case RuntimeDocker:
		if sc.Topology.Network {
			return errors.New("topology.network (Toxiproxy on loopback) is not available with --runtime docker: use partition, container_pause or cpu_limit events")
		}
	default:
		return fmt.Errorf("runtime %q is not local or docker", runtime)
	}
	return nil
}

// startDockerTopology brings the scenario's cluster up in containers
// (package cluster) and presents it as a Topology: each member is reached
// on its loopback port, and is both the chaos.Process and the
// chaos.Container the injectors act on.
func startDockerTopology(ctx context.Context, sc *scenarios.Scenario, o TopologyOptions) (*Topology, error) {
	sims := sc.Topology.Sims
	// One seed for every sim: each container runs the same command.
	simArgs := simFlags(sims, o.Seed)
	logDir := filepath.Join(o.Dir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	cl, err := cluster.Up(ctx, cluster.Spec{
		Binary: o.Binary, Sims: sims.Count, SimArgs: simArgs, Ollamas: sc.Topology.Ollamas.Count,
		Bridges: sc.Topology.Bridges.Count, BridgeArgs: sc.Topology.Bridges.Args, BridgeConfig: sc.Topology.Bridges.Config,
		LB: sc.Topology.LB == "nginx", LBFailTimeout: sc.Topology.LBFailTimeout.D(),
	})
	if err != nil {
		return nil, err
	}
	t := &Topology{Model: "deepseek-r1:7b", cluster: containerLogs{cl, logDir}}
	switch {
	case len(sims.Models) > 0:
		t.Model = sims.Models[0]
	case sims.Count == 0:
		t.Model = images.OllamaModel
	}
	member := func(m *cluster.Member) *Member {
		return &Member{Name: m.Name, Kind: m.Kind, Addr: m.HostAddr, URL: m.URL, Proc: m, Container: m, UpstreamURL: m.InnerURL}
	}
	for _, m := range append(append([]*cluster.Member{}, cl.Sims...), cl.Ollamas...) {
		t.Sims = append(t.Sims, member(m))
	}
	for _, m := range cl.Bridges {
		t.Bridges = append(t.Bridges, member(m))
	}
	if cl.LB != nil {
		t.LB = member(cl.LB)
		t.Entry = []string{cl.LB.URL}
	} else {
		for _, b := range t.Bridges {
			t.Entry = append(t.Entry, b.URL)
		}
	}
	return t, nil
}

// containerLogs keeps each container's output in DIR/logs/NAME.log, as the
// local runtime does for its processes, before the cluster is removed.
type containerLogs struct {
	*cluster.Cluster
	dir string
}

// Close writes the logs, then removes the cluster.
func (c containerLogs) Close() error {
	for _, m := range c.Members() {
		_ = os.WriteFile(filepath.Join(c.dir, m.Name+".log"), []byte(m.Logs(context.Background())), 0o644)
	}
	return c.Cluster.Close()
}

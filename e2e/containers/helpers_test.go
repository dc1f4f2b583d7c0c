package containers

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/dsbridge/dsbridge/bench"
	"github.com/dsbridge/dsbridge/cluster"
	"github.com/dsbridge/dsbridge/images"
	"github.com/dsbridge/dsbridge/internal/testproc"
	"github.com/dsbridge/dsbridge/scenarios"
)

// TestMain disables testcontainers' reaper (its image cannot be pulled),
// sweeps what crashed earlier runs left, runs the tests, and then fails the
// run if any container or network of this process is still there.
func TestMain(m *testing.M) {
	os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	docker, err := images.NewDockerClient()
	if err == nil {
		if _, perr := docker.Ping(context.Background(), client.PingOptions{}); perr != nil {
			docker = nil
		}
	}
	if docker != nil {
		if err := cluster.RemoveLeftovers(context.Background(), docker); err != nil {
			fmt.Fprintln(os.Stderr, "removing leftovers:", err)
		}
		// Interrupted (Ctrl-C, go test's timeout signal): no t.Cleanup
		// runs, so remove this process's containers here.
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
		go func() {
			sig := <-sigs
			fmt.Fprintf(os.Stderr, "%v: removing this run's containers\n", sig)
			_ = cluster.RemoveOwned(context.Background(), docker)
			os.Exit(2)
		}()
	}
	code := m.Run()
	if docker != nil {
		left, err := cluster.Owned(context.Background(), docker)
		if err != nil || len(left) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: left behind after the tests: %v %v\n", left, err)
			_ = cluster.RemoveOwned(context.Background(), docker)
			code = 1
		}
	}
	os.Exit(code)
}

// requireDocker skips without a usable Docker engine, or fails where
// DSBRIDGE_REQUIRE_TOOLS is set.
func requireDocker(t *testing.T) {
	t.Helper()
	out, err := exec.Command("docker", "version", "--format", "{{.Server.APIVersion}}").CombinedOutput()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("no Docker engine: %v %s", err, strings.TrimSpace(string(out)))
	if os.Getenv("DSBRIDGE_REQUIRE_TOOLS") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// requireTool is requireDocker for a program an image is made from.
func requireTool(t *testing.T, path, pkg string) {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		return
	}
	if os.Getenv("DSBRIDGE_REQUIRE_TOOLS") != "" {
		t.Fatalf("%s not found (apt-get install %s)", path, pkg)
	}
	t.Skipf("%s not found (apt-get install %s)", path, pkg)
}

// runScenario runs a shipped scenario with --runtime docker and returns
// its results; a broken run fails the test.
func runScenario(t *testing.T, name string) *bench.Results {
	t.Helper()
	requireDocker(t)
	sc, err := scenarios.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Topology.LB == "nginx" {
		requireTool(t, "/usr/sbin/nginx", "nginx-light")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	res, err := bench.Run(ctx, bench.Options{Scenario: sc, OutDir: t.TempDir(), Binary: testproc.Binary(t), Runtime: bench.RuntimeDocker})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Logf("%s in containers: %d requests, %d failed, p99 %.1f ms, failovers %.0f, in %.1fs",
		name, res.Requests.Total, res.Requests.Failed, res.LatencyMs.P99, res.Failovers, time.Since(start).Seconds())
	for _, g := range res.Gates {
		if !g.Pass {
			t.Errorf("%s: gate %s %s failed: value %.4g", name, g.Metric, g.Threshold, g.Value)
		}
	}
	return res
}

// upCluster brings a cluster up for one test and removes it at its end.
func upCluster(t *testing.T, s cluster.Spec) *cluster.Cluster {
	t.Helper()
	requireDocker(t)
	if s.Binary == "" {
		s.Binary = testproc.Binary(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := cluster.Up(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("cluster down: %v", err)
		}
	})
	return c
}

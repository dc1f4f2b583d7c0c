package containers

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/dsbridge/dsbridge/cluster"
	"github.com/dsbridge/dsbridge/images"
	"github.com/dsbridge/dsbridge/internal/testproc"
)

// The local Compose stack (compose/local.yml) with the Compose tool this
// machine has (docker-compose 1.29): every service comes up (the sims and
// bridges healthy by their own probes), a smoke load through nginx has no
// failure, and Prometheus in the stack scrapes every bridge and simulator.
// `down -v` removes it all, which TestMain checks.
func TestLocalComposeStack(t *testing.T) {
	requireDocker(t)
	requireTool(t, "/usr/sbin/nginx", "nginx-light")
	requireTool(t, "/usr/bin/prometheus", "prometheus")
	composeBin, err := exec.LookPath("docker-compose")
	if err != nil {
		if os.Getenv("DSBRIDGE_REQUIRE_TOOLS") != "" {
			t.Fatal("docker-compose not found (apt-get install docker-compose)")
		}
		t.Skip("docker-compose not found (apt-get install docker-compose)")
	}
	bin := testproc.Binary(t)
	docker, err := images.NewDockerClient()
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b := &images.Builder{Docker: docker}
	if _, _, err := b.EnsureAll(ctx, images.Sources{DSBridge: bin}, "dsbridge", "nginx", "prometheus"); err != nil {
		t.Fatal(err)
	}

	project := cluster.ComposeProject(os.Getpid())
	lb, prom := testproc.FreeAddr(t), testproc.FreeAddr(t)
	compose := func(ctx context.Context, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, composeBin, append([]string{"-p", project, "-f", filepath.Join("..", "..", "compose", "local.yml")}, args...)...)
		cmd.Env = append(os.Environ(), "DSBRIDGE_LB_PORT="+port(lb), "DSBRIDGE_PROM_PORT="+port(prom))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("docker-compose %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		compose(ctx, "down", "-v", "--remove-orphans", "-t", "5")
	})
	start := time.Now()
	compose(ctx, "up", "-d")
	t.Logf("docker-compose up -d: %.1fs", time.Since(start).Seconds())

	// Every service runs; those with a health check are healthy.
	testproc.Eventually(t, 60*time.Second, "every service of the stack up (and healthy where checked)", func() bool {
		return stackHealthy(t, docker, project, 7)
	})

	// A smoke load through nginx.
	out := filepath.Join(t.TempDir(), "load.json")
	if b, err := exec.Command(bin, "load", "--target", "http://"+lb, "--rate", "20", "--duration", "5s", "--out", out).CombinedOutput(); err != nil {
		t.Fatalf("load through the stack's nginx: %v\n%s", err, b)
	}
	var res struct {
		Requests struct{ Total, Failed int64 }
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	if res.Requests.Total < 80 || res.Requests.Failed != 0 {
		t.Errorf("smoke load: %d requests, %d failed; want ≥ 80 and none", res.Requests.Total, res.Requests.Failed)
	}

	want := "dsbridge/bridge-1:8080 dsbridge/bridge-2:8080 ollamasim/sim-1:11434 ollamasim/sim-2:11434 ollamasim/sim-3:11434"
	var got []string
	testproc.Eventually(t, 30*time.Second, "Prometheus in the stack scraping every bridge and simulator", func() bool {
		got = upTargets(t, "http://"+prom)
		return strings.Join(got, " ") == want
	})
}

// stackHealthy reports whether the project has n containers, all running,
// and healthy where they have a health check.
func stackHealthy(t *testing.T, docker *client.Client, project string, n int) bool {
	t.Helper()
	cs, err := docker.ContainerList(context.Background(), client.ContainerListOptions{All: true,
		Filters: client.Filters{}.Add("label", "com.docker.compose.project="+project)})
	if err != nil || len(cs.Items) != n {
		return false
	}
	for _, c := range cs.Items {
		res, err := docker.ContainerInspect(context.Background(), c.ID, client.ContainerInspectOptions{})
		if err != nil || res.Container.State == nil || !res.Container.State.Running {
			return false
		}
		if h := res.Container.State.Health; h != nil && h.Status != "healthy" {
			return false
		}
	}
	return true
}

func port(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }

// The stack for users names public images, so it cannot start here; the
// Compose tool still checks it: syntax, references, interpolation.
func TestPublicComposeFileIsValid(t *testing.T) {
	composeBin, err := exec.LookPath("docker-compose")
	if err != nil {
		if os.Getenv("DSBRIDGE_REQUIRE_TOOLS") != "" {
			t.Fatal("docker-compose not found (apt-get install docker-compose)")
		}
		t.Skip("docker-compose not found (apt-get install docker-compose)")
	}
	out, err := exec.Command(composeBin, "-f", filepath.Join("..", "..", "compose", "docker-compose.yml"), "config", "--services").CombinedOutput()
	if err != nil {
		t.Fatalf("docker-compose config: %v\n%s", err, out)
	}
	got := strings.Fields(string(out))
	for _, want := range []string{"ollama-1", "ollama-2", "ollama-3", "dsbridge-1", "dsbridge-2", "nginx", "prometheus", "grafana", "elasticsearch", "kibana", "es-setup", "jaeger"} {
		if !slices.Contains(got, want) {
			t.Errorf("public stack lacks service %s (has %v)", want, got)
		}
	}
}

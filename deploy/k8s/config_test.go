package k8s

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dsbridge/dsbridge/bridge"
)

// deployment is the part of base/bridge-deployment.yaml these checks read.
type deployment struct {
	Spec struct {
		Strategy struct {
			RollingUpdate struct {
				MaxUnavailable any `yaml:"maxUnavailable"`
			} `yaml:"rollingUpdate"`
		} `yaml:"strategy"`
		Template struct {
			Spec struct {
				TerminationGracePeriodSeconds int `yaml:"terminationGracePeriodSeconds"`
				Containers                    []struct {
					Args  []string `yaml:"args"`
					Ports []struct {
						ContainerPort int `yaml:"containerPort"`
					} `yaml:"ports"`
					LivenessProbe  probe `yaml:"livenessProbe"`
					ReadinessProbe probe `yaml:"readinessProbe"`
					Lifecycle      struct {
						PreStop struct {
							Sleep struct {
								Seconds int `yaml:"seconds"`
							} `yaml:"sleep"`
						} `yaml:"preStop"`
					} `yaml:"lifecycle"`
					SecurityContext struct {
						ReadOnlyRootFilesystem bool `yaml:"readOnlyRootFilesystem"`
					} `yaml:"securityContext"`
				} `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type probe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
	} `yaml:"httpGet"`
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestBridgeConfigInConfigMap: the file the ConfigMap carries is a valid
// bridge configuration that discovers Ollama through DNS.
func TestBridgeConfigInConfigMap(t *testing.T) {
	cfg, err := bridge.LoadConfig("base/dsbridge.yaml")
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		t.Fatal(err)
	}
	if cfg.UpstreamsDNS.Name != "ollama" || cfg.UpstreamsDNS.Port != 11434 {
		t.Errorf("upstreams_dns %+v: want the headless Service ollama on 11434", cfg.UpstreamsDNS)
	}
	if host, _, _ := net.SplitHostPort(cfg.Listen); host != "0.0.0.0" {
		t.Errorf("listen %q: a pod must listen on all interfaces", cfg.Listen)
	}
}

// TestDeploymentDrains: the kubelet waits long enough for the bridge's own
// drain (preStop sleep, then drain_delay, then grace for streams), the
// probes hit the bridge's endpoints, and a roll never lowers capacity.
func TestDeploymentDrains(t *testing.T) {
	cfg, err := bridge.LoadConfig("base/dsbridge.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var d deployment
	readYAML(t, "base/bridge-deployment.yaml", &d)
	spec := d.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers", len(spec.Containers))
	}
	c := spec.Containers[0]
	preStop := time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	need := preStop + cfg.Server.DrainDelay + cfg.Server.Grace + time.Second
	if got := time.Duration(spec.TerminationGracePeriodSeconds) * time.Second; got < need {
		t.Errorf("terminationGracePeriodSeconds %v < preStop %v + drain_delay %v + grace %v + 1 s", got, preStop,
			cfg.Server.DrainDelay, cfg.Server.Grace)
	}
	if preStop < 2*time.Second {
		t.Errorf("preStop sleep %v: too short for endpoints to leave the Service", preStop)
	}
	if c.LivenessProbe.HTTPGet.Path != "/health" || c.ReadinessProbe.HTTPGet.Path != "/ready" {
		t.Errorf("probes %q, %q: want /health and /ready", c.LivenessProbe.HTTPGet.Path, c.ReadinessProbe.HTTPGet.Path)
	}
	if mu := d.Spec.Strategy.RollingUpdate.MaxUnavailable; mu != 0 {
		t.Errorf("maxUnavailable %v: want 0", mu)
	}
	if !c.SecurityContext.ReadOnlyRootFilesystem {
		t.Error("root filesystem not read-only")
	}
	_, port, _ := net.SplitHostPort(cfg.Listen)
	if len(c.Ports) != 1 || strconv.Itoa(c.Ports[0].ContainerPort) != port {
		t.Errorf("container ports %+v, bridge listens on %s", c.Ports, port)
	}
	if strings.Join(c.Args, " ") != "serve --config /etc/dsbridge/dsbridge.yaml" {
		t.Errorf("args %q", c.Args)
	}
}

// TestLoadJobShards: the Job's shard count agrees with its completions and
// parallelism, and every pod writes its results where they can be
// collected (stdout).
func TestLoadJobShards(t *testing.T) {
	var j struct {
		Spec struct {
			CompletionMode string `yaml:"completionMode"`
			Completions    int    `yaml:"completions"`
			Parallelism    int    `yaml:"parallelism"`
			Template       struct {
				Spec struct {
					Containers []struct {
						Args []string `yaml:"args"`
					} `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	readYAML(t, "loadtest/loadgen-job.yaml", &j)
	if j.Spec.CompletionMode != "Indexed" || j.Spec.Completions != j.Spec.Parallelism {
		t.Errorf("completionMode %q, completions %d, parallelism %d: want Indexed, all at once", j.Spec.CompletionMode,
			j.Spec.Completions, j.Spec.Parallelism)
	}
	args := strings.Join(j.Spec.Template.Spec.Containers[0].Args, " ")
	if want := "--shard=$(SHARD)/" + strconv.Itoa(j.Spec.Completions); !strings.Contains(args, want) {
		t.Errorf("args %q lack %q", args, want)
	}
	if !strings.Contains(args, "--out=-") {
		t.Errorf("args %q: results must go to stdout (--out=-) to be collected", args)
	}
}

// TestPrometheusScrapeConfig: the prometheus.yml in the ConfigMap passes
// Debian's promtool, and its job is the one dashboards/ queries. Debian
// builds Prometheus without Kubernetes discovery, so its promtool is given
// the file with kubernetes_sd_configs swapped for a static target: the
// relabelling rules and everything else are still checked.
func TestPrometheusScrapeConfig(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("DSBRIDGE_REQUIRE_TOOLS") != "" {
			t.Fatal("promtool not found and DSBRIDGE_REQUIRE_TOOLS is set (apt-get install prometheus)")
		}
		t.Skip("promtool not found (apt-get install prometheus)")
	}
	var cm struct {
		Data map[string]string `yaml:"data"`
	}
	readYAML(t, "base/prometheus.yaml", &cm)
	conf := cm.Data["prometheus.yml"]
	if !strings.Contains(conf, "job_name: dsbridge") {
		t.Errorf("no job dsbridge in:\n%s", conf)
	}
	conf, ok := swapKubernetesSD(conf)
	if !ok {
		t.Fatalf("no kubernetes_sd_configs block in:\n%s", cm.Data["prometheus.yml"])
	}
	f := filepath.Join(t.TempDir(), "prometheus.yml")
	if err := os.WriteFile(f, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "config", f).CombinedOutput(); err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
}

// swapKubernetesSD replaces each kubernetes_sd_configs block (the line and
// the lines indented below it) with a static target.
func swapKubernetesSD(conf string) (string, bool) {
	var out []string
	found := false
	lines := strings.Split(conf, "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.TrimSpace(l) != "kubernetes_sd_configs:" {
			out = append(out, l)
			continue
		}
		found = true
		indent := l[:len(l)-len(strings.TrimLeft(l, " "))]
		out = append(out, indent+"static_configs:", indent+"  - targets: [127.0.0.1:11434]")
		for i+1 < len(lines) && strings.HasPrefix(lines[i+1], indent+" ") {
			i++
		}
	}
	return strings.Join(out, "\n"), found
}

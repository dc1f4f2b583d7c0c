package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/dsbridge/dsbridge/chaos"
	"github.com/dsbridge/dsbridge/cluster"
	"github.com/dsbridge/dsbridge/internal/loopback"
	"github.com/dsbridge/dsbridge/internal/parallel"
	"github.com/dsbridge/dsbridge/internal/proc"
	"github.com/dsbridge/dsbridge/scenarios"
)

// Member is one process (or container) of the topology.
type Member struct {
	Name string // sim-1, ollama-1, bridge-2, nginx
	Kind string // sim, ollama, bridge, lb
	Addr string // host:port it listens on (published on loopback for a container)
	URL  string // http://Addr
	Proc chaos.Process
	// Container is set with --runtime docker (the container injectors act
	// on it), and UpstreamURL is then how the bridges dial this upstream.
	Container   chaos.Container
	UpstreamURL string
	// Proxy is the Toxiproxy proxy in front of a sim, and ProxyAddr where
	// the bridges dial it ("" without a network layer).
	Proxy, ProxyAddr string
}

// Topology is the cluster of one run, all on loopback:
//
//	load ─▶ [nginx] ─▶ bridge-1..M ─▶ [Toxiproxy sim-N] ─▶ sim-1..N
type Topology struct {
	Sims    []*Member
	Bridges []*Member
	LB      *Member
	Net     *chaos.Network
	// Entry are the URLs the load goes to: nginx, or every bridge.
	Entry []string
	// Model is the first model the sims serve (for mix entries without one).
	Model string
	// cluster is the containers of a --runtime docker run (dockertopology.go).
	cluster interface{ Close() error }
}

// TopologyOptions says where the binaries are and where logs go.
type TopologyOptions struct {
	// Runtime is "local" (processes on loopback, the default) or "docker"
	// (containers, see dockertopology.go).
	Runtime string
	Binary  string // the dsbridge binary
	Nginx   string // the nginx binary (default: found on $PATH or /usr/sbin)
	Dir     string // logs and generated configs
	Seed    int64
}

// StartTopology starts the scenario's cluster and waits until every member is
// ready. On error it stops whatever it started.
func StartTopology(ctx context.Context, sc *scenarios.Scenario, o TopologyOptions) (_ *Topology, err error) {
	if o.Runtime == RuntimeDocker {
		return startDockerTopology(ctx, sc, o)
	}
	t := &Topology{Model: "deepseek-r1:7b"}
	if len(sc.Topology.Sims.Models) > 0 {
		t.Model = sc.Topology.Sims.Models[0]
	}
	defer func() {
		if err != nil {
			t.Stop()
		}
	}()
	logDir := filepath.Join(o.Dir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	newMember := func(name, kind, readyPath string, args func(addr string) []string) (*Member, error) {
		addr, err := loopback.FreeAddr()
		if err != nil {
			return nil, err
		}
		f, err := os.OpenFile(filepath.Join(logDir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		p := proc.New(proc.Spec{Name: name, Path: o.Binary, Args: args(addr), ReadyURL: "http://" + addr + readyPath, Log: f})
		return &Member{Name: name, Kind: kind, Addr: addr, URL: "http://" + addr, Proc: p}, nil
	}

	sims := sc.Topology.Sims
	for i := 1; i <= sims.Count; i++ {
		m, err := newMember(fmt.Sprintf("sim-%d", i), "sim", "/", func(addr string) []string {
			return append([]string{"sim", "--listen", addr}, simFlags(sims, o.Seed+int64(i))...)
		})
		if err != nil {
			return nil, err
		}
		t.Sims = append(t.Sims, m)
	}
	if err := startAll(ctx, t.Sims); err != nil {
		return nil, err
	}

	upstreams := make([]string, len(t.Sims))
	for i, s := range t.Sims {
		upstreams[i] = s.URL
	}
	if sc.Topology.Network {
		t.Net, err = chaos.NewNetwork()
		if err != nil {
			return nil, err
		}
		for i, s := range t.Sims {
			addr, err := t.Net.AddProxy(s.Name, s.Addr)
			if err != nil {
				return nil, err
			}
			s.Proxy, s.ProxyAddr = s.Name, addr
			upstreams[i] = "http://" + addr
		}
	}

	var cfgPath string
	if sc.Topology.Bridges.Config != "" {
		cfgPath = filepath.Join(o.Dir, "bridge.yaml")
		if err := os.WriteFile(cfgPath, []byte(sc.Topology.Bridges.Config), 0o644); err != nil {
			return nil, err
		}
	}
	for i := 1; i <= sc.Topology.Bridges.Count; i++ {
		name := fmt.Sprintf("bridge-%d", i)
		m, err := newMember(name, "bridge", "/ready", func(addr string) []string {
			a := []string{"serve", "--listen", addr, "--instance-id", name}
			for _, u := range upstreams {
				a = append(a, "--upstream", u)
			}
			if cfgPath != "" {
				a = append(a, "--config", cfgPath)
			}
			return append(a, sc.Topology.Bridges.Args...)
		})
		if err != nil {
			return nil, err
		}
		t.Bridges = append(t.Bridges, m)
	}
	if err := startAll(ctx, t.Bridges); err != nil {
		return nil, err
	}

	if sc.Topology.LB == "nginx" {
		lb, err := startNginx(ctx, o, t.Bridges, sc.Topology.LBFailTimeout.D())
		if err != nil {
			return nil, err
		}
		t.LB = lb
		t.Entry = []string{lb.URL}
	} else {
		for _, b := range t.Bridges {
			t.Entry = append(t.Entry, b.URL)
		}
	}
	return t, nil
}

// startAll starts members in parallel: sims take a moment each to be ready,
// and a serial start would eat into a one-minute smoke run.
func startAll(ctx context.Context, ms []*Member) error {
	return parallel.Each(ms, func(m *Member) error { return m.Proc.Start(ctx) })
}

// Scraped reports whether the member serves dsbridge's /metrics (real
// Ollama and nginx do not).
func (m *Member) Scraped() bool { return m.Kind != "lb" && m.Kind != "ollama" }

// Members lists every member: sims, bridges, then the load balancer.
func (t *Topology) Members() []*Member {
	out := append(append([]*Member{}, t.Sims...), t.Bridges...)
	if t.LB != nil {
		out = append(out, t.LB)
	}
	return out
}

// Targets is the topology as the chaos injectors see it.
func (t *Topology) Targets() []chaos.Target {
	var out []chaos.Target
	for _, m := range t.Sims {
		out = append(out, chaos.Target{Name: m.Name, Kind: m.Kind, Proc: m.Proc, AdminURL: m.URL, Proxy: m.Proxy, Container: m.Container})
	}
	for _, m := range t.Bridges {
		out = append(out, chaos.Target{Name: m.Name, Kind: "bridge", Proc: m.Proc, Container: m.Container})
	}
	return out
}

// Stop stops everything, front to back: the load balancer, the bridges
// (SIGTERM so they drain, SIGKILL after 5 s), the network layer, the sims.
// It is safe to call more than once and on a half-started topology.
func (t *Topology) Stop() {
	if t.cluster != nil {
		_ = t.cluster.Close()
		t.cluster = nil
		return
	}
	if t.LB != nil {
		_ = t.LB.Proc.Stop(2 * time.Second)
	}
	stopAll(t.Bridges, 5*time.Second)
	if t.Net != nil {
		_ = t.Net.Close()
		t.Net = nil
	}
	stopAll(t.Sims, time.Second)
}

func stopAll(ms []*Member, grace time.Duration) {
	var wg sync.WaitGroup
	for _, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = m.Proc.Stop(grace)
		}()
	}
	wg.Wait()
}

// nginxBinary finds nginx: $PATH first, then Debian's /usr/sbin.
func nginxBinary(o TopologyOptions) (string, error) {
	if o.Nginx != "" {
		return o.Nginx, nil
	}
	if p, err := exec.LookPath("nginx"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx", nil
	}
	return "", errors.New("topology.lb nginx: nginx is not installed (apt-get install nginx-light)")
}

// startNginx runs nginx as a local process in front of the bridges, with
// the config the docker runtime's nginx has (cluster.NginxConf), its paths
// under DIR/nginx.
func startNginx(ctx context.Context, o TopologyOptions, bridges []*Member, failTimeout time.Duration) (*Member, error) {
	bin, err := nginxBinary(o)
	if err != nil {
		return nil, err
	}
	addr, err := loopback.FreeAddr()
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(filepath.Join(o.Dir, "nginx"))
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		return nil, err
	}
	servers := make([]string, len(bridges))
	for i, b := range bridges {
		servers[i] = b.Addr
	}
	conf := cluster.NginxConf{
		Header:      "generated by dsbridge bench",
		Servers:     servers,
		FailTimeout: failTimeout,
		Listen:      addr,
		// One process: it dies with the bench even when the bench is
		// SIGKILLed (see the comment Text writes with it).
		NoMaster: true,
		PID:      filepath.Join(dir, "nginx.pid"),
		ErrorLog: filepath.Join(dir, "error.log"),
		TempDir:  filepath.Join(dir, "tmp"),
	}.Text()
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(o.Dir, "logs", "nginx.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	p := proc.New(proc.Spec{Name: "nginx", Path: bin, Args: []string{"-e", filepath.Join(dir, "error.log"), "-p", dir, "-c", confPath},
		ReadyURL: "http://" + addr + "/nginx-ready", Log: f})
	m := &Member{Name: "nginx", Kind: "lb", Addr: addr, URL: "http://" + addr, Proc: p}
	if err := p.Start(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

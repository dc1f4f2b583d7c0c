// Package cluster brings up a dsbridge topology in Docker containers with
// testcontainers-go: N bridges behind an optional nginx, M simulators and/or
// real Ollamas, an optional Prometheus, on a private network where every
// member has a stable name and address, and tears it all down again.
//
//	host ──127.0.0.1:P──▶ nginx ──▶ bridge-1..N ──▶ sim-1..M / ollama-1..K
//	                       (every member also published on its own loopback
//	                        port, fixed for its life, so a restart keeps it)
//
// The images are the project's own (package images), built here before the
// first container starts. Testcontainers' reaper cannot be pulled, so it is
// disabled and the package cleans up by label (labels.go).
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/dsbridge/dsbridge/images"
	"github.com/dsbridge/dsbridge/internal/loopback"
	"github.com/dsbridge/dsbridge/internal/parallel"
)

// Spec is the topology to bring up. Zero values take the defaults given.
type Spec struct {
	// Binary is the static dsbridge binary for the dsbridge image
	// (default: this executable).
	Binary string
	// Sims simulators (`dsbridge sim`), each run with SimArgs after
	// `sim --listen :11434`.
	Sims    int
	SimArgs []string
	// Ollamas real Ollama containers serving images.OllamaModel.
	Ollamas int
	// Bridges `dsbridge serve`, each with every sim and Ollama as upstream,
	// BridgeArgs and, when set, BridgeConfig as its --config file.
	Bridges      int
	BridgeArgs   []string
	BridgeConfig string
	// LB puts nginx in front of the bridges; LBFailTimeout is its
	// fail_timeout per bridge (default 2s).
	LB            bool
	LBFailTimeout time.Duration
	// Prometheus scrapes every bridge (job dsbridge) and sim (job ollamasim)
	// each second, with dsbridge's rules.
	Prometheus bool
	// Memory is every sim's, Ollama's and bridge's memory limit (default
	// 1 GiB): the ceiling the OOM chaos action lowers and then restores.
	Memory int64
	// Log receives progress lines (nil: none).
	Log io.Writer
}

// Container ports.
const (
	upstreamPort = 11434
	bridgePort   = 8080
	nginxPort    = 80
	promPort     = 9090
	defaultMem   = 1 << 30
)

// Cluster is a running topology.
type Cluster struct {
	RunID   string
	Network string // the private network's name
	Subnet  netip.Prefix
	Sims    []*Member
	Ollamas []*Member
	Bridges []*Member
	LB      *Member // nil without Spec.LB
	Prom    *Member // nil without Spec.Prometheus

	docker *client.Client
	netID  string
	log    io.Writer
}

// Up brings the topology up and waits until every member is ready. On
// error it removes whatever it created.
func Up(ctx context.Context, s Spec) (_ *Cluster, err error) {
	// The reaper image cannot be pulled; the labels do its job. Set before
	// testcontainers reads its configuration (once per process).
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") == "" {
		_ = os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	if s.Memory == 0 {
		s.Memory = defaultMem
	}
	if s.LBFailTimeout == 0 {
		s.LBFailTimeout = 2 * time.Second
	}
	if s.Binary == "" {
		if s.Binary, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	if s.Sims+s.Ollamas == 0 || s.Bridges == 0 {
		return nil, errors.New("cluster: need at least one upstream (sim or ollama) and one bridge")
	}
	docker, err := images.NewDockerClient()
	if err != nil {
		return nil, err
	}
	c := &Cluster{RunID: newRunID(), docker: docker, log: s.Log}
	defer func() {
		if err != nil {
			_ = c.Down(context.Background())
		}
	}()
	if err := RemoveLeftovers(ctx, docker); err != nil {
		c.logf("removing leftovers of earlier runs: %v", err)
	}
	refs, err := c.ensureImages(ctx, s)
	if err != nil {
		return nil, err
	}
	if err := c.createNetwork(ctx); err != nil {
		return nil, err
	}

	var upstreams []string
	for i := 1; i <= s.Sims; i++ {
		name := fmt.Sprintf("sim-%d", i)
		cmd := append([]string{"sim", "--listen", ":" + strconv.Itoa(upstreamPort)}, s.SimArgs...)
		c.Sims = append(c.Sims, c.member(name, "sim", 10+i, upstreamPort, "/", memberSpec{image: refs["dsbridge"], cmd: cmd, memory: s.Memory}))
		upstreams = append(upstreams, c.Sims[i-1].InnerURL)
	}
	for i := 1; i <= s.Ollamas; i++ {
		name := fmt.Sprintf("ollama-%d", i)
		c.Ollamas = append(c.Ollamas, c.member(name, "ollama", 40+i, upstreamPort, "/", memberSpec{image: refs["ollama"], memory: s.Memory}))
		upstreams = append(upstreams, c.Ollamas[i-1].InnerURL)
	}
	if err := c.startAll(ctx, append(append([]*Member{}, c.Sims...), c.Ollamas...)); err != nil {
		return nil, err
	}

	for i := 1; i <= s.Bridges; i++ {
		name := fmt.Sprintf("bridge-%d", i)
		cmd := []string{"serve", "--listen", ":" + strconv.Itoa(bridgePort), "--instance-id", name}
		for _, u := range upstreams {
			cmd = append(cmd, "--upstream", u)
		}
		ms := memberSpec{image: refs["dsbridge"], memory: s.Memory}
		if s.BridgeConfig != "" {
			cmd = append(cmd, "--config", "/etc/dsbridge/bridge.yaml")
			ms.files = map[string]string{"/etc/dsbridge/bridge.yaml": s.BridgeConfig}
		}
		ms.cmd = append(cmd, s.BridgeArgs...)
		c.Bridges = append(c.Bridges, c.member(name, "bridge", 70+i, bridgePort, "/ready", ms))
	}
	if err := c.startAll(ctx, c.Bridges); err != nil {
		return nil, err
	}

	if s.LB {
		c.LB = c.member("nginx", "lb", 100, nginxPort, "/nginx-ready", memberSpec{image: refs["nginx"],
			files: map[string]string{"/etc/nginx/nginx.conf": nginxConfig(c.Bridges, s.LBFailTimeout)}})
		if err := c.startAll(ctx, []*Member{c.LB}); err != nil {
			return nil, err
		}
	}
	if s.Prometheus {
		files, err := prometheusFiles(c.Bridges, append(append([]*Member{}, c.Sims...), c.Ollamas...))
		if err != nil {
			return nil, err
		}
		c.Prom = c.member("prometheus", "prometheus", 101, promPort, "/-/ready", memberSpec{image: refs["prometheus"], files: files})
		if err := c.startAll(ctx, []*Member{c.Prom}); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Entry is the URL clients on this machine send requests to: nginx's, or
// the first bridge's without a load balancer.
func (c *Cluster) Entry() string {
	if c.LB != nil {
		return c.LB.URL
	}
	return c.Bridges[0].URL
}

// Members lists every member: upstreams, bridges, then nginx and Prometheus.
func (c *Cluster) Members() []*Member {
	out := append(append(append([]*Member{}, c.Sims...), c.Ollamas...), c.Bridges...)
	for _, m := range []*Member{c.LB, c.Prom} {
		if m != nil {
			out = append(out, m)
		}
	}
	return out
}

// Docker is the engine client the cluster uses.
func (c *Cluster) Docker() *client.Client { return c.docker }

// Down removes every container and the network of this run. It is safe to
// call more than once and on a half-started cluster.
func (c *Cluster) Down(ctx context.Context) error {
	if c.docker == nil {
		return nil
	}
	err := RemoveRun(ctx, c.docker, c.RunID)
	if err == nil {
		c.logf("cluster %s removed", c.RunID)
	}
	return err
}

// Close removes the cluster and closes the engine client.
func (c *Cluster) Close() error {
	err := c.Down(context.Background())
	if c.docker != nil {
		err = errors.Join(err, c.docker.Close())
	}
	return err
}

func (c *Cluster) logf(format string, a ...any) {
	if c.log != nil {
		fmt.Fprintf(c.log, format+"\n", a...)
	}
}

func newRunID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "dsb-" + hex.EncodeToString(b)
}

// ensureImages builds (or finds) the images this topology needs.
func (c *Cluster) ensureImages(ctx context.Context, s Spec) (map[string]string, error) {
	want := []string{"dsbridge"}
	if s.Ollamas > 0 {
		want = append(want, "ollama")
	}
	if s.LB {
		want = append(want, "nginx")
	}
	if s.Prometheus {
		want = append(want, "prometheus")
	}
	b := &images.Builder{Docker: c.docker, Log: c.log}
	refs, _, err := b.EnsureAll(ctx, images.Sources{DSBridge: s.Binary}, want...)
	return refs, err
}

// createNetwork makes the run's bridge network with a subnet of its own, so
// that every member gets a fixed address: a restarted bridge comes back
// where nginx (which resolves names once, at start) expects it. Subnets in
// use by other networks are skipped.
func (c *Cluster) createNetwork(ctx context.Context) error {
	c.Network = c.RunID
	seed := int(c.RunID[len(c.RunID)-2]) * 7
	var lastErr error
	for i := range 64 {
		third := (seed + i*37) % 256
		subnet := netip.MustParsePrefix(fmt.Sprintf("10.213.%d.0/24", third))
		res, err := c.docker.NetworkCreate(ctx, c.Network, client.NetworkCreateOptions{
			Driver: "bridge", Labels: c.labels(""),
			IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: subnet, Gateway: subnet.Addr().Next()}}},
		})
		if err == nil {
			c.netID, c.Subnet = res.ID, subnet
			return nil
		}
		lastErr = err
		if !strings.Contains(err.Error(), "overlap") {
			break
		}
	}
	return fmt.Errorf("create network: %w", lastErr)
}

// memberSpec is how to run one member's container.
type memberSpec struct {
	image  string
	cmd    []string
	files  map[string]string // path in the container → contents
	memory int64
}

// member prepares (does not start) a member with address .host on the
// network and a free loopback port on this machine.
func (c *Cluster) member(name, kind string, host, port int, readyPath string, ms memberSpec) *Member {
	ip := c.Subnet.Addr()
	for range host {
		ip = ip.Next()
	}
	return &Member{Name: name, Kind: kind, IP: ip, Port: port, ReadyPath: readyPath,
		InnerURL: fmt.Sprintf("http://%s:%d", name, port), c: c, spec: ms}
}

// startAll starts members in parallel and waits until each is ready.
func (c *Cluster) startAll(ctx context.Context, ms []*Member) error {
	return parallel.Each(ms, func(m *Member) error { return m.create(ctx) })
}

// create runs the member's container through testcontainers and waits
// until its ready path answers 200.
func (m *Member) create(ctx context.Context) error {
	c := m.c
	hostAddr, err := loopback.FreeAddr()
	if err != nil {
		return err
	}
	m.HostAddr, m.URL = hostAddr, "http://"+hostAddr
	_, hostPort, _ := net.SplitHostPort(hostAddr)
	cport := network.MustParsePort(strconv.Itoa(m.Port) + "/tcp")
	var files []testcontainers.ContainerFile
	for path, data := range m.spec.files {
		files = append(files, testcontainers.ContainerFile{Reader: strings.NewReader(data), ContainerFilePath: path, FileMode: 0o644})
	}
	req := testcontainers.GenericContainerRequest{Started: true, ContainerRequest: testcontainers.ContainerRequest{
		Image: m.spec.image, Name: c.RunID + "-" + m.Name, Cmd: m.spec.cmd, Labels: c.labels(m.Name),
		ExposedPorts: []string{cport.String()}, Files: files,
		Networks: []string{c.Network}, NetworkAliases: map[string][]string{c.Network: {m.Name}},
		EndpointSettingsModifier: func(eps map[string]*network.EndpointSettings) {
			if ep := eps[c.Network]; ep != nil {
				ep.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: m.IP}
			}
		},
		HostConfigModifier: func(hc *container.HostConfig) {
			hc.PortBindings = network.PortMap{cport: {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: hostPort}}}
			if m.spec.memory > 0 {
				hc.Memory, hc.MemorySwap = m.spec.memory, m.spec.memory
			}
		},
	}, Logger: tcLogger{c.log}}
	ctr, err := testcontainers.GenericContainer(ctx, req)
	if ctr != nil {
		m.ctr, m.ID = ctr, ctr.GetContainerID()
	}
	if err != nil {
		return fmt.Errorf("%s: %w", m.Name, err)
	}
	// Readiness through the fixed loopback port, the way every later
	// check reaches the member (testcontainers' own wait strategies look
	// the port up again, and guess the host when run inside a container).
	if err := m.WaitReady(ctx, 90*time.Second); err != nil {
		logs := m.Logs(ctx)
		if len(logs) > 4<<10 {
			logs = logs[len(logs)-4<<10:]
		}
		return fmt.Errorf("%w\n%s", err, logs)
	}
	c.logf("%s ready at %s (%s on %s)", m.Name, m.URL, m.IP, c.Network)
	return nil
}

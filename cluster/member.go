package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"syscall"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/dsbridge/dsbridge/chaos"
)

// Member is one container of the cluster. It implements chaos.Process
// (signals, stop, start) and chaos.Container (pause, network, limits), so
// the scenario timeline's injectors act on it directly.
type Member struct {
	Name string // sim-1, ollama-1, bridge-2, nginx, prometheus
	Kind string // sim, ollama, bridge, lb, prometheus
	ID   string // the container's id
	IP   netip.Addr
	Port int // the port it listens on inside the container
	// HostAddr and URL reach it from this machine (127.0.0.1, a port fixed
	// for the member's life); InnerURL from the cluster's network, by name.
	HostAddr, URL, InnerURL string
	ReadyPath               string

	c    *Cluster
	spec memberSpec
	ctr  testcontainers.Container
}

var (
	_ chaos.Process   = (*Member)(nil)
	_ chaos.Container = (*Member)(nil)
)

// Signal sends sig to the container's main process.
func (m *Member) Signal(sig syscall.Signal) error {
	_, err := m.c.docker.ContainerKill(context.Background(), m.ID, client.ContainerKillOptions{Signal: signalName(sig)})
	return err
}

// Stop stops the container: SIGTERM, then SIGKILL after grace (0: SIGKILL
// at once). It returns when the container has exited.
func (m *Member) Stop(grace time.Duration) error {
	ctx := context.Background()
	if grace == 0 {
		if _, err := m.c.docker.ContainerKill(ctx, m.ID, client.ContainerKillOptions{Signal: "KILL"}); err != nil && !isNotRunning(err) {
			return err
		}
	} else {
		secs := int((grace + time.Second - 1) / time.Second)
		if _, err := m.c.docker.ContainerStop(ctx, m.ID, client.ContainerStopOptions{Timeout: &secs}); err != nil {
			return err
		}
	}
	return m.waitExited(ctx, grace+30*time.Second)
}

// Start starts the stopped container again (same name, address, port and
// limits) and waits until its ready path answers.
func (m *Member) Start(ctx context.Context) error {
	if _, err := m.c.docker.ContainerStart(ctx, m.ID, client.ContainerStartOptions{}); err != nil {
		return fmt.Errorf("start %s: %w", m.Name, err)
	}
	return m.WaitReady(ctx, 90*time.Second)
}

// Running reports whether the container runs (a paused one does).
func (m *Member) Running() bool {
	running, _, err := m.State(context.Background())
	return err == nil && running
}

// State implements chaos.Container.
func (m *Member) State(ctx context.Context) (running, oomKilled bool, err error) {
	res, err := m.c.docker.ContainerInspect(ctx, m.ID, client.ContainerInspectOptions{})
	if err != nil {
		return false, false, err
	}
	st := res.Container.State
	if st == nil {
		return false, false, errors.New("no state")
	}
	return st.Running, st.OOMKilled, nil
}

// Pause implements chaos.Container.
func (m *Member) Pause(ctx context.Context) error {
	_, err := m.c.docker.ContainerPause(ctx, m.ID, client.ContainerPauseOptions{})
	return err
}

// Unpause implements chaos.Container.
func (m *Member) Unpause(ctx context.Context) error {
	_, err := m.c.docker.ContainerUnpause(ctx, m.ID, client.ContainerUnpauseOptions{})
	return err
}

// Disconnect implements chaos.Container.
func (m *Member) Disconnect(ctx context.Context) error {
	_, err := m.c.docker.NetworkDisconnect(ctx, m.c.netID, client.NetworkDisconnectOptions{Container: m.ID, Force: true})
	return err
}

// Reconnect implements chaos.Container: same address, same name.
func (m *Member) Reconnect(ctx context.Context) error {
	_, err := m.c.docker.NetworkConnect(ctx, m.c.netID, client.NetworkConnectOptions{Container: m.ID,
		EndpointConfig: &network.EndpointSettings{Aliases: []string{m.Name}, IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: m.IP}}})
	return err
}

// Limits implements chaos.Container.
func (m *Member) Limits() chaos.Limits {
	return chaos.Limits{MemoryBytes: m.spec.memory}
}

// SetLimits implements chaos.Container. A CPU limit of 0 lifts the quota.
func (m *Member) SetLimits(ctx context.Context, l chaos.Limits) error {
	r := &container.Resources{NanoCPUs: int64(l.CPUs * 1e9)}
	if l.MemoryBytes > 0 {
		r.Memory, r.MemorySwap = l.MemoryBytes, l.MemoryBytes
	}
	_, err := m.c.docker.ContainerUpdate(ctx, m.ID, client.ContainerUpdateOptions{Resources: r})
	return err
}

// WaitReady polls the member's ready path on its host port until it
// answers 200.
func (m *Member) WaitReady(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	hc := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, m.URL+m.ReadyPath, nil)
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready at %s%s: %v", m.Name, m.URL, m.ReadyPath, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (m *Member) waitExited(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		running, _, err := m.State(ctx)
		if err != nil {
			return err
		}
		if !running {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still running after %v", m.Name, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// signalName is the name docker kill takes for sig.
func signalName(sig syscall.Signal) string {
	switch sig {
	case syscall.SIGKILL:
		return "KILL"
	case syscall.SIGTERM:
		return "TERM"
	case syscall.SIGSTOP:
		return "STOP"
	case syscall.SIGCONT:
		return "CONT"
	case syscall.SIGHUP:
		return "HUP"
	case syscall.SIGINT:
		return "INT"
	}
	return fmt.Sprint(int(sig))
}

// isNotRunning: killing a container that already exited is not an error
// for Stop (the member is stopped either way).
func isNotRunning(err error) bool {
	return err != nil && (isNotFound(err) || errdefsConflict(err))
}

// Logs returns the container's output (its last MiB at most).
func (m *Member) Logs(ctx context.Context) string {
	if m.ctr == nil {
		return ""
	}
	r, err := m.ctr.Logs(ctx)
	if err != nil {
		return err.Error()
	}
	defer r.Close()
	b, _ := io.ReadAll(r)
	if len(b) > 1<<20 {
		b = b[len(b)-1<<20:]
	}
	return string(b)
}

// tcLogger sends testcontainers' lines to the cluster's log, or nowhere.
type tcLogger struct{ w io.Writer }

func (l tcLogger) Printf(format string, a ...any) {
	if l.w != nil {
		fmt.Fprintf(l.w, format+"\n", a...)
	}
}

// MemoryUsage implements chaos.Container: the cgroup's memory use now.
func (m *Member) MemoryUsage(ctx context.Context) (int64, error) {
	res, err := m.c.docker.ContainerStats(ctx, m.ID, client.ContainerStatsOptions{})
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	var st struct {
		MemoryStats struct {
			Usage int64 `json:"usage"`
		} `json:"memory_stats"`
	}
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
		return 0, err
	}
	return st.MemoryStats.Usage, nil
}

package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// Every container and network a cluster creates carries these labels. The
// reaper container of testcontainers (Ryuk) cannot be pulled here, so the
// project cleans up after itself by label: Down removes a run's objects, and
// RemoveLeftovers removes those of runs whose process is gone (a crashed or
// SIGKILLed test binary or bench).
const (
	LabelRun  = "dsbridge.cluster" // the run id
	LabelPID  = "dsbridge.pid"     // the process that owns the run
	LabelRole = "dsbridge.member"  // sim-1, bridge-2, nginx…
)

// labels for one object of the run.
func (c *Cluster) labels(member string) map[string]string {
	l := map[string]string{LabelRun: c.RunID, LabelPID: strconv.Itoa(os.Getpid())}
	if member != "" {
		l[LabelRole] = member
	}
	return l
}

// RemoveRun force-removes every container and network labelled with run.
func RemoveRun(ctx context.Context, docker *client.Client, run string) error {
	return removeWhere(ctx, docker, LabelRun+"="+run, func(map[string]string) bool { return true })
}

// RemoveLeftovers removes the containers and networks of earlier runs
// whose owning process no longer exists. Runs of live processes (other
// test packages running at the same time) are left alone.
func RemoveLeftovers(ctx context.Context, docker *client.Client) error {
	return removeWhere(ctx, docker, LabelRun, func(l map[string]string) bool { return !processAlive(l[LabelPID]) })
}

// Owned lists the containers and networks that this process still owns,
// for a test that checks nothing is left behind.
func Owned(ctx context.Context, docker *client.Client) ([]string, error) {
	f := client.Filters{}.Add("label", LabelPID+"="+strconv.Itoa(os.Getpid()))
	var out []string
	cs, err := docker.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, err
	}
	for _, c := range cs.Items {
		out = append(out, "container "+c.Names[0])
	}
	ns, err := docker.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return nil, err
	}
	for _, n := range ns.Items {
		out = append(out, "network "+n.Name)
	}
	return out, nil
}

func removeWhere(ctx context.Context, docker *client.Client, label string, pick func(map[string]string) bool) error {
	f := client.Filters{}.Add("label", label)
	var errs []error
	cs, err := docker.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return err
	}
	for _, c := range cs.Items {
		if pick(c.Labels) {
			if _, err := docker.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !isNotFound(err) {
				errs = append(errs, fmt.Errorf("remove container %s: %w", c.Names, err))
			}
		}
	}
	ns, err := docker.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, n := range ns.Items {
		if pick(n.Labels) {
			if _, err := docker.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !isNotFound(err) {
				errs = append(errs, fmt.Errorf("remove network %s: %w", n.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// processAlive reports whether pid names a process on this machine.
func processAlive(pid string) bool {
	n, err := strconv.Atoi(pid)
	if err != nil || n <= 0 {
		return false
	}
	err = syscall.Kill(n, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func isNotFound(err error) bool { return errdefs.IsNotFound(err) }

func errdefsConflict(err error) bool { return errdefs.IsConflict(err) }

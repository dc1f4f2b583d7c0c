package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
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

// ComposeProject is the Compose project name a process uses for a stack it
// starts in tests, so that a stack whose test died can be found and removed.
func ComposeProject(pid int) string { return composePrefix + strconv.Itoa(pid) }

const (
	composePrefix = "dsbtest-"
	composeLabel  = "com.docker.compose.project"
)

// RemoveLeftovers removes the containers and networks of earlier runs, and
// the Compose stacks of earlier tests (with their volumes), whose owning
// process no longer exists. Runs of live processes (other test packages
// running at the same time) are left alone.
func RemoveLeftovers(ctx context.Context, docker *client.Client) error {
	err := removeWhere(ctx, docker, LabelRun, func(l map[string]string) bool { return !processAlive(l[LabelPID]) })
	deadStack := func(l map[string]string) bool {
		pid, ok := strings.CutPrefix(l[composeLabel], composePrefix)
		return ok && !processAlive(pid)
	}
	return errors.Join(err, removeWhere(ctx, docker, composeLabel, deadStack), removeVolumesWhere(ctx, docker, composeLabel, deadStack))
}

// RemoveOwned removes what Owned lists: everything of this process.
func RemoveOwned(ctx context.Context, docker *client.Client) error {
	me := strconv.Itoa(os.Getpid())
	mine := func(l map[string]string) bool {
		return l[LabelPID] == me || l[composeLabel] == ComposeProject(os.Getpid())
	}
	return errors.Join(removeWhere(ctx, docker, LabelPID, mine), removeWhere(ctx, docker, composeLabel, mine),
		removeVolumesWhere(ctx, docker, composeLabel, mine))
}

func removeVolumesWhere(ctx context.Context, docker *client.Client, label string, pick func(map[string]string) bool) error {
	vs, err := docker.VolumeList(ctx, client.VolumeListOptions{Filters: client.Filters{}.Add("label", label)})
	if err != nil {
		return err
	}
	var errs []error
	for _, v := range vs.Items {
		if pick(v.Labels) {
			if _, err := docker.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true}); err != nil && !isNotFound(err) {
				errs = append(errs, fmt.Errorf("remove volume %s: %w", v.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Owned lists the containers, networks and volumes that this process still
// owns (its clusters' and its Compose stack's), for a test that checks
// nothing is left behind.
func Owned(ctx context.Context, docker *client.Client) ([]string, error) {
	out, err := owned(ctx, docker, client.Filters{}.Add("label", LabelPID+"="+strconv.Itoa(os.Getpid())))
	if err != nil {
		return nil, err
	}
	stack := client.Filters{}.Add("label", composeLabel+"="+ComposeProject(os.Getpid()))
	more, err := owned(ctx, docker, stack)
	if err != nil {
		return nil, err
	}
	vs, err := docker.VolumeList(ctx, client.VolumeListOptions{Filters: stack})
	if err != nil {
		return nil, err
	}
	for _, v := range vs.Items {
		more = append(more, "volume "+v.Name)
	}
	return append(out, more...), nil
}

func owned(ctx context.Context, docker *client.Client, f client.Filters) ([]string, error) {
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

package chaos

import "context"

// Container is an optional capability of a Target: the member runs in a
// Docker container (dsbridge bench --runtime docker), and the container
// injectors (docker.go) act on the container itself rather than on a
// process: the cgroup freezer, the network, the resource limits.
type Container interface {
	// Pause freezes every process of the container (docker pause); Unpause
	// thaws them.
	Pause(ctx context.Context) error
	Unpause(ctx context.Context) error
	// Disconnect takes the container off the cluster's network (a
	// partition: connections to it hang, then fail); Reconnect puts it back
	// at the same address and name.
	Disconnect(ctx context.Context) error
	Reconnect(ctx context.Context) error
	// SetLimits changes the container's limits while it runs (docker
	// update); Limits are those it was created with.
	SetLimits(ctx context.Context, l Limits) error
	Limits() Limits
	// MemoryUsage is the container's memory use now, in bytes.
	MemoryUsage(ctx context.Context) (int64, error)
	// State reports whether the container runs and whether the kernel's
	// OOM killer ended it.
	State(ctx context.Context) (running, oomKilled bool, err error)
}

// Limits are a container's resource limits; zero leaves one unchanged.
type Limits struct {
	MemoryBytes int64   // memory and memory+swap
	CPUs        float64 // CPU quota, in CPUs (0.2 = a fifth of one)
}

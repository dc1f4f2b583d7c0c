// Package shardedload checks issue 9's sharded load end to end with the
// real binary: four `dsbridge load --shard i/4` processes merged by
// `dsbridge report merge` against one generator at the same total rate. It
// measures latency percentiles, so `make test` runs it on its own (with the
// other packages that must not share the machine), not beside the rest.
package shardedload

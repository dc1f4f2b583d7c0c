// Package k8s checks deploy/k8s offline, as hard as a real cluster would:
// the kustomizations are rendered with kustomize's library, validated by
// kubeconform in strict mode against JSON schemas generated from the
// Kubernetes OpenAPI spec (cmd/openapi2jsonschema), and applied to a real
// kube-apiserver on loopback backed by Debian's etcd — a server-side dry run
// with strict field validation, then a real create. Deliberately broken
// copies must be rejected by the same checks.
//
// The binaries and schemas come from scripts/build-k8s-tools.sh (make
// k8s-tools), which builds them from the Go module proxy into a cache
// outside the clone; $DSBRIDGE_K8S_TOOLS names that folder. This is a module
// of its own so the bridge's go.mod never carries k8s.io dependencies.
package k8s

// Package k8s holds the Kubernetes manifests (base/, loadtest/; kustomize)
// and the checks that need no cluster: the bridge's configuration in the
// ConfigMap loads, and the Deployment's drain timings fit it. The checks
// against a real API server and strict schemas live in tools/k8s, a module
// of their own.
package k8s

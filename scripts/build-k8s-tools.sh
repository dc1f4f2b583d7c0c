#!/usr/bin/env bash
# build-k8s-tools.sh builds what checks deploy/k8s offline, once, into a
# cache folder outside the clone, and prints that folder:
#   bin/kube-apiserver  k8s.io/kubernetes/cmd/kube-apiserver
#   bin/kubeconform     github.com/yannh/kubeconform/cmd/kubeconform
#   schemas/            strict standalone JSON schemas made from the
#                       k8s.io/kubernetes module's api/openapi-spec/swagger.json
# Versions are tools/k8s/go.mod's (a module of its own: the bridge's go.mod
# carries no k8s.io dependency). The folder is named by a hash of that
# module's go.mod, go.sum and schema generator, so a version bump builds
# afresh and later runs on the same machine return at once. Cold: about 6
# minutes on 2 idle cores, mostly kube-apiserver.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TOOLS="$ROOT/tools/k8s"
KEY="$(cat "$TOOLS/go.mod" "$TOOLS/go.sum" "$TOOLS/cmd/openapi2jsonschema/main.go" | sha256sum | cut -c1-12)"
CACHE="${DSBRIDGE_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dsbridge/k8s-tools-$KEY}"

if [ -x "$CACHE/bin/kube-apiserver" ] && [ -x "$CACHE/bin/kubeconform" ] && [ -f "$CACHE/DONE" ]; then
  echo "$CACHE"
  exit 0
fi

mkdir -p "$CACHE/bin"
cd "$TOOLS"
start=$(date +%s)
echo "build-k8s-tools: building kube-apiserver and kubeconform into $CACHE (several minutes)" >&2
# -mod=readonly: go.sum must already pin everything (no silent upgrades).
env GOFLAGS='-mod=readonly -buildvcs=false' go build -trimpath -ldflags='-s -w' -o "$CACHE/bin/" \
  k8s.io/kubernetes/cmd/kube-apiserver github.com/yannh/kubeconform/cmd/kubeconform >&2

SPEC="$(env GOFLAGS='-mod=readonly -buildvcs=false' go list -m -f '{{.Dir}}' k8s.io/kubernetes)/api/openapi-spec/swagger.json"
rm -rf "$CACHE/schemas.tmp"
env GOFLAGS='-mod=readonly -buildvcs=false' go run ./cmd/openapi2jsonschema --spec "$SPEC" --out "$CACHE/schemas.tmp" >&2
rm -rf "$CACHE/schemas"
mv "$CACHE/schemas.tmp" "$CACHE/schemas"
touch "$CACHE/DONE"
echo "build-k8s-tools: done in $(( $(date +%s) - start ))s" >&2
echo "$CACHE"

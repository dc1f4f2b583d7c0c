#!/usr/bin/env bash
# build-ollama.sh builds real Ollama from the Go module proxy, once, into a
# cache folder outside the clone, and prints the binary's path. Later runs on
# the same machine find the stamped binary and return at once.
#
# `go install github.com/ollama/ollama@VERSION` fails as is: module zips leave
# out vendor/ directories, and llama.cpp includes headers that live there. We
# supply them from Debian (nlohmann-json3-dev, libstb-dev) and miniaudio.h from
# the Go module github.com/gen2brain/malgo (see ollama-golden/README.md).
set -euo pipefail

OLLAMA_VERSION="${OLLAMA_VERSION:-0.17.4}"
MALGO_VERSION="v0.11.24"
CACHE="${DSBRIDGE_OLLAMA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dsbridge/ollama-v${OLLAMA_VERSION}}"
BIN="$CACHE/bin/ollama"
STAMP="$CACHE/VERSION"

if [ -x "$BIN" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$OLLAMA_VERSION" ]; then
  echo "$BIN"
  exit 0
fi

sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
APT_PACKAGES="nlohmann-json3-dev libstb-dev g++"
if ! dpkg -s $APT_PACKAGES >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >&2
  $sudo apt-get install -y -qq --no-install-recommends $APT_PACKAGES >&2
fi

mkdir -p "$CACHE/include/miniaudio" "$CACHE/bin"
# miniaudio.h comes from a Go module, fetched through the ordinary Go client.
MALGO_DIR="$(cd "$CACHE" && GOFLAGS=-mod=mod go mod download -json "github.com/gen2brain/malgo@$MALGO_VERSION" \
  | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
if [ -z "$MALGO_DIR" ] || [ ! -f "$MALGO_DIR/miniaudio.h" ]; then
  echo "build-ollama: miniaudio.h not found in malgo@$MALGO_VERSION ($MALGO_DIR)" >&2
  exit 1
fi
cp "$MALGO_DIR/miniaudio.h" "$CACHE/include/miniaudio/miniaudio.h"

echo "build-ollama: building ollama v$OLLAMA_VERSION into $CACHE (several minutes)" >&2
start=$(date +%s)
# GOBIN keeps the binary out of $GOPATH/bin; -s -w as upstream's release does.
env CGO_ENABLED=1 GOBIN="$CACHE/bin" GOFLAGS= \
  CGO_CPPFLAGS="-I$CACHE/include" \
  go install -ldflags="-s -w -X=github.com/ollama/ollama/version.Version=$OLLAMA_VERSION" \
  "github.com/ollama/ollama@v$OLLAMA_VERSION" >&2
echo "$OLLAMA_VERSION" > "$STAMP"
echo "build-ollama: built in $(( $(date +%s) - start ))s, $(stat -c %s "$BIN") bytes" >&2
echo "$BIN"

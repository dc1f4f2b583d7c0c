#!/usr/bin/env bash
# Writes cmd/dsbridge/default.pgo (make pgo): the CPU profile that `go build`
# uses for profile-guided optimisation of the binary (Go's -pgo=auto picks
# default.pgo in the main package's directory; no flag needed anywhere).
#
# The profile is the bridge's own hot path under the proxy benchmark's three
# cases — non-streamed chat, 32- and 512-token streams — against three stdlib
# upstreams on loopback (bench/proxybench --profile), merged into one. A build
# from a stale profile is still correct; it only optimises less. Re-run this
# after large changes to the request path, on an otherwise quiet machine.
#
# Needs wrk and nginx-light (Debian), as `make bench-proxy` does.
set -euo pipefail
GO="${GO:-go}"
SECONDS_PER_CASE="${PGO_SECONDS:-20}"
OUT="cmd/dsbridge/default.pgo"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Profile the binary built from the current profile: PGO's documented
# workflow (a profile of an optimised build is as good a guide, and the
# build stays stable from one refresh to the next).
CGO_ENABLED=0 $GO build -trimpath -o "$work/dsbridge" ./cmd/dsbridge
$GO build -o "$work/proxybench" ./bench/proxybench
"$work/proxybench" --dsbridge "$work/dsbridge" --targets bridge --repeat 1 \
  --duration 1s --warmup 1s --profile --profile-seconds "$SECONDS_PER_CASE" --out "$work/out" >&2
profiles=("$work"/out/bridge-*-cpu.pprof)
if [ "${#profiles[@]}" -lt 3 ] || [ ! -s "${profiles[0]}" ]; then
  echo "pgo: expected a CPU profile per case in $work/out, got: ${profiles[*]}" >&2
  exit 1
fi
$GO tool pprof -proto "${profiles[@]}" > "$work/merged.pgo"
mv "$work/merged.pgo" "$OUT"
echo "pgo: wrote $OUT from ${#profiles[@]} profiles of ${SECONDS_PER_CASE}s each" >&2

#!/usr/bin/env bash
# Runs every fuzz target of the module for FUZZTIME each (make fuzz).
#
# Go's fuzzing coordinator can fail a run at the -fuzztime boundary with a
# bare "context deadline exceeded" and no failing input when its workers are
# starved of CPU (golang/go#75804, #51484). Such a run is repeated once; any
# run that writes a failing input, panics or fails otherwise fails at once.
set -uo pipefail
FUZZTIME="${FUZZTIME:-10s}"
GO="${GO:-go}"
for pkg in $($GO list ./...); do
  for f in $($GO test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz'); do
    for try in 1 2; do
      echo "fuzz $pkg $f"
      log=$(mktemp)
      $GO test -run '^$' -fuzz "^$f\$" -fuzztime "$FUZZTIME" "$pkg" 2>&1 | tee "$log" | grep -v '^fuzz: elapsed'
      rc=${PIPESTATUS[0]}
      if [ "$rc" -eq 0 ]; then rm -f "$log"; break; fi
      if [ "$try" -eq 1 ] && grep -q 'context deadline exceeded' "$log" &&
         ! grep -q -e 'Failing input written' -e 'panic:' -e '_test.go:[0-9]*:' "$log"; then
        echo "fuzz $pkg $f: the coordinator's deadline race (no failing input); running it once more"
        rm -f "$log"
        continue
      fi
      rm -f "$log"
      exit 1
    done
  done
done

#!/usr/bin/env bash
# Runs every fuzz test of the module for a bounded time each.
# Usage: hack/fuzz.sh [DURATION]   (default 20s)
set -euo pipefail
time=${1:-20s}
cd "$(dirname "${BASH_SOURCE[0]}")/.."
found=0
for pkg in $(go list ./... | grep -v /test/); do
  for fn in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    found=1
    echo "== $pkg $fn ($time)"
    go test -run='^$' -fuzz="^${fn}\$" -fuzztime="$time" "$pkg"
  done
done
[ "$found" = 1 ] || { echo "fuzz: no fuzz tests found" >&2; exit 1; }

#!/usr/bin/env bash
# Builds helm, at the version pinned in hack/helm-version, from the Go module
# proxy into the cache the control plane uses, once; prints its path.
# HELM set to an executable wins.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ -n "${HELM:-}" ]; then
  [ -x "$HELM" ] || { echo "helm: HELM=$HELM is not an executable" >&2; exit 1; }
  echo "$HELM"
  exit 0
fi
version=$(tr -d '[:space:]' <"$here/helm-version")
cache=${FLINK_HA_WEBHOOK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flink-ha-webhook}
dest="$cache/tools/helm-$version"
if [ -x "$dest/helm" ]; then
  echo "$dest/helm"
  exit 0
fi
mkdir -p "$cache/tools"
exec 9>"$cache/tools/helm-$version.lock"
flock 9
if [ ! -x "$dest/helm" ]; then
  echo "helm: building helm $version (first time only, about a minute)" >&2
  work=$(mktemp -d "$cache/tools/build.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0 GOBIN="$work/bin" go install "helm.sh/helm/v3/cmd/helm@$version")
  rm -rf "$dest"
  mv "$work/bin" "$dest"
fi
echo "$dest/helm"

#!/usr/bin/env bash
# Builds the real Kubernetes control plane used by the end-to-end tests
# (kube-apiserver, etcd, kube-controller-manager, kubectl) from the Go module
# proxy, at the version pinned in hack/kube-version, into a cache outside the
# checkout so that every clone on this machine reuses it.
#
# Prints the directory that holds the binaries (suitable for KUBEBUILDER_ASSETS).
# If KUBEBUILDER_ASSETS is set and holds the binaries, that directory wins and
# nothing is built.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
version=${KUBE_VERSION:-$(tr -d '[:space:]' <"$here/kube-version")}
bins=(kube-apiserver etcd kube-controller-manager kubectl)

complete() {
  local dir=$1 b
  for b in "${bins[@]}"; do [ -x "$dir/$b" ] || return 1; done
}

if [ -n "${KUBEBUILDER_ASSETS:-}" ]; then
  if complete "$KUBEBUILDER_ASSETS"; then
    echo "$KUBEBUILDER_ASSETS"
    exit 0
  fi
  echo "controlplane: KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS lacks one of: ${bins[*]}" >&2
  exit 1
fi

cache=${FLINK_HA_WEBHOOK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flink-ha-webhook}
dest="$cache/controlplane/$version"
if complete "$dest"; then
  echo "$dest"
  exit 0
fi

mkdir -p "$cache/controlplane"
# One build at a time per version: a second caller waits, then finds the result.
exec 9>"$cache/controlplane/$version.lock"
if ! flock -n 9; then
  echo "controlplane: another build of $version is running; waiting for it" >&2
  flock 9
fi
if complete "$dest"; then
  echo "$dest"
  exit 0
fi

case $version in
  v1.*.*) ;;
  *) echo "controlplane: version must look like v1.X.Y, got '$version'" >&2; exit 1 ;;
esac
staging_version="v0.${version#v1.}"
etcd_version=${ETCD_VERSION:-}

work=$(mktemp -d "$cache/controlplane/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "controlplane: building Kubernetes $version (first time only, ~6 minutes on 2 cores)" >&2

export GOFLAGS=-mod=mod GOWORK=off GOTOOLCHAIN=${GOTOOLCHAIN:-local} CGO_ENABLED=0
mkdir -p "$work/mod"
modfile=$(cd "$work" && go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')
[ -n "$modfile" ] || { echo "controlplane: cannot download k8s.io/kubernetes@$version" >&2; exit 1; }
# k8s.io/kubernetes' own go.mod points its staging modules at local folders;
# point them at the published modules of the same release instead.
sed -e 's#^module k8s.io/kubernetes$#module flink-ha-webhook.local/controlplane#' \
    -e "s#^\(\s*\)\(k8s.io/[A-Za-z0-9._-]*\) => ./staging/src/k8s.io/[A-Za-z0-9._-]*#\1\2 => \2 $staging_version#" \
    "$modfile" >"$work/mod/go.mod"
printf '\nrequire k8s.io/kubernetes %s\n' "$version" >>"$work/mod/go.mod"
if [ -z "$etcd_version" ]; then
  etcd_version=$(sed -n 's#^\s*go.etcd.io/etcd/client/v3 \(v[^ ]*\).*#\1#p' "$work/mod/go.mod" | head -n1)
fi
printf 'require go.etcd.io/etcd/server/v3 %s\n' "$etcd_version" >>"$work/mod/go.mod"
(
  cd "$work/mod"
  go build -trimpath -ldflags='-s -w' -o "$work/bin/" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kubectl
  go build -trimpath -ldflags='-s -w' -o "$work/bin/etcd" go.etcd.io/etcd/server/v3
)
complete "$work/bin" || { echo "controlplane: build finished without every binary" >&2; exit 1; }
rm -rf "$dest"
mv "$work/bin" "$dest"
echo "controlplane: Kubernetes $version ready in $dest" >&2
echo "$dest"

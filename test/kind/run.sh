#!/usr/bin/env bash
# flink-ha-webhook end to end on a kind cluster, for machines with Docker:
# creates a cluster, installs cert-manager, builds and loads the image,
# installs the Helm chart, applies the Flink examples the end-to-end tests
# use (handler/testdata) and checks what the webhook made of them, then
# deletes the cluster (KEEP_CLUSTER=1 keeps it).
#
# Needs docker, kind and kubectl; helm, or Go to build it (hack/helm.sh).
# Environment: KIND_CLUSTER (flink-ha-webhook-e2e), IMAGE
# (flink-ha-webhook:kind), KEEP_CLUSTER.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cluster=${KIND_CLUSTER:-flink-ha-webhook-e2e}
image=${IMAGE:-flink-ha-webhook:kind}
cert_manager=$(tr -d '[:space:]' <"$root/hack/cert-manager-version")

# shellcheck source=test/kind/lib.sh
. "$root/test/kind/lib.sh"

for tool in docker kind kubectl; do
  command -v "$tool" >/dev/null || fail "$tool is not installed"
done
helm=$(command -v helm || "$root/hack/helm.sh")

k() { kubectl --context "kind-$cluster" "$@"; }


cleanup() {
  if [ -z "${KEEP_CLUSTER:-}" ]; then
    kind delete cluster --name "$cluster" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

step "Creating kind cluster $cluster"
kind create cluster --name "$cluster" --wait 120s

step "Installing cert-manager $cert_manager"
k apply -f "https://github.com/cert-manager/cert-manager/releases/download/$cert_manager/cert-manager.yaml"
for d in cert-manager cert-manager-cainjector cert-manager-webhook; do
  k -n cert-manager rollout status "deployment/$d" --timeout=180s
done

step "Building $image and loading it into the cluster"
docker build -t "$image" "$root"
kind load docker-image "$image" --name "$cluster"

step "Installing the chart"
"$helm" --kube-context "kind-$cluster" install flink-ha-webhook "$root/charts/flink-ha-webhook" \
  --namespace flink-ha-webhook --create-namespace \
  --set image.repository="${image%:*}" --set image.tag="${image##*:}" --set image.pullPolicy=Never \
  --set policy.storageDir='s3://flink-ha/{namespace}/{clusterId}' \
  --wait --timeout 180s
ca_injected() {
  [ -n "$(k get mutatingwebhookconfiguration flink-ha-webhook -o jsonpath='{.webhooks[0].clientConfig.caBundle}')" ]
}
eventually ca_injected || fail "cert-manager did not inject the CA into the webhook configuration"
pass "webhook installed, CA injected"

KUBE_CONTEXT="kind-$cluster" NAMESPACE=flink-demo "$(dirname "${BASH_SOURCE[0]}")/check.sh"

#!/usr/bin/env bash
# The checks of the kind test, against any cluster where flink-ha-webhook is
# installed with the policy storageDir s3://flink-ha/{namespace}/{clusterId}
# and the account flink-ha: applies the Flink examples of handler/testdata
# in NAMESPACE (created; default flink-demo) with kubectl (KUBECONFIG and
# KUBE_CONTEXT are honoured) and checks what the webhook made of them.
# test/kind/run.sh runs it on kind; test/e2e runs it on the test bed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
examples="$root/handler/testdata"
ns=${NAMESPACE:-flink-demo}

# shellcheck source=test/kind/lib.sh
. "$root/test/kind/lib.sh"

k() {
  if [ -n "${KUBE_CONTEXT:-}" ]; then
    kubectl --context "$KUBE_CONTEXT" "$@"
  else
    kubectl "$@"
  fi
}


step "Applying the Flink docs' standalone session cluster"
k create namespace "$ns"
k -n "$ns" apply -f "$examples/standalone-session.in.yaml"
conf=$(k -n "$ns" get configmap flink-config -o jsonpath='{.data.flink-conf\.yaml}')
grep -q '^high-availability: org.apache.flink.kubernetes.highavailability.KubernetesHaServicesFactory$' <<<"$conf" ||
  fail "flink-conf.yaml has not the HA spelling every Flink version reads"
grep -q "^high-availability.storageDir: s3://flink-ha/$ns/session$" <<<"$conf" || fail "flink-conf.yaml has no storageDir"
pass "flink-conf.yaml made HA"
[ "$(k -n "$ns" get deployment flink-jobmanager -o jsonpath='{.spec.template.spec.serviceAccountName}')" = flink-ha ] ||
  fail "the JobManager does not run under flink-ha"
# shellcheck disable=SC2016 # $(POD_IP) is Kubernetes' variable reference, meant literally
[ "$(k -n "$ns" get deployment flink-jobmanager -o jsonpath='{.spec.template.spec.containers[0].args[2]}')" = 'jobmanager.rpc.address=$(POD_IP)' ] ||
  fail "the JobManager does not advertise its pod IP"
pass "JobManager runs under flink-ha and advertises \$(POD_IP)"
role_bound() { k -n "$ns" get serviceaccount/flink-ha rolebinding/flink-ha; }
eventually role_bound || fail "the service account and its RoleBinding were not made"
for verb in update patch; do
  [ "$(k -n "$ns" auth can-i "$verb" configmaps --as "system:serviceaccount:$ns:flink-ha")" = yes ] ||
    fail "flink-ha may not $verb ConfigMaps"
done
[ "$(k -n "$ns" auth can-i create pods --as "system:serviceaccount:$ns:flink-ha" || true)" = no ] ||
  fail "flink-ha may create pods"
pass "flink-ha exists and may manage ConfigMaps, and no more"

step "Refusing a ZooKeeper configuration under a Kubernetes HA policy"
if out=$(k -n "$ns" apply -f "$examples/zookeeper.in.yaml" 2>&1); then
  fail "the ZooKeeper configuration was admitted"
fi
grep -q 'requires Kubernetes HA' <<<"$out" || fail "the denial does not say how to fix it: $out"
pass "denied with the fix"

step "HA ConfigMaps owned by the JobManager lose their owner and survive it"
uid=$(k -n "$ns" get deployment flink-jobmanager -o jsonpath='{.metadata.uid}')
k -n "$ns" apply -f - <<EOF_CM
apiVersion: v1
kind: ConfigMap
metadata:
  name: session-cluster-config-map
  labels: {app: session, type: flink-native-kubernetes, configmap-type: high-availability}
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: flink-jobmanager, uid: $uid}]
data:
  counter: "42"
EOF_CM
[ -z "$(k -n "$ns" get configmap session-cluster-config-map -o jsonpath='{.metadata.ownerReferences}')" ] ||
  fail "the HA ConfigMap kept its owner reference"
k -n "$ns" delete deployment flink-jobmanager --wait=true
sleep 5
[ "$(k -n "$ns" get configmap session-cluster-config-map -o jsonpath='{.data.counter}')" = 42 ] ||
  fail "the HA ConfigMap did not survive its JobManager"
pass "the HA ConfigMap and its data survived"

step "All checks passed"

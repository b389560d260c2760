package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestSafetyNetFollowsTheNamespacePolicyOnOptOut: an owned HA ConfigMap
// that opts out keeps its owner while the policy allows opting out (the
// policy file does); once a FlinkHAPolicy forbids it in that namespace,
// the safety net removes the owner without a restart, and changes nothing
// else.
func TestSafetyNetFollowsTheNamespacePolicyOnOptOut(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := plane.Namespace(t)
	_, err := plane.Clientset.CoreV1().Namespaces().Patch(ctx, ns, types.MergePatchType,
		[]byte(`{"metadata":{"labels":{"flink-optout-test":"`+ns+`"}}}`), metav1.PatchOptions{})
	require.NoError(t, err)
	cms := plane.Clientset.CoreV1().ConfigMaps(ns)
	owner, err := cms.Create(ctx, newConfigMap("owner"), metav1.CreateOptions{})
	require.NoError(t, err)
	_, errOut, err := kubectlIn(ctx, ns, `apiVersion: v1
kind: ConfigMap
metadata:
  name: orders-cluster-config-map
  labels: {app: orders, configmap-type: high-availability, type: flink-native-kubernetes}
  annotations:
    flink-ha-webhook/ha: "off"
    control-plane.alpha.kubernetes.io/leader: '{"holderIdentity":"jm-0","renewTime":"2026-11-24T07:00:00Z"}'
  ownerReferences:
  - {apiVersion: v1, kind: ConfigMap, name: owner, uid: `+string(owner.UID)+`}
data:
  counter: "9"
`, "apply", "-f", "-")
	require.NoError(t, err, errOut)
	optedOut := func() int {
		cm, err := cms.Get(ctx, "orders-cluster-config-map", metav1.GetOptions{})
		require.NoError(t, err)
		return len(cm.OwnerReferences)
	}
	assert.Never(t, func() bool { return optedOut() == 0 }, 3*time.Second, 200*time.Millisecond,
		"the policy file allows opting out: the owner stays")
	cm, err := cms.Get(ctx, "orders-cluster-config-map", metav1.GetOptions{})
	require.NoError(t, err)
	before := contents(t, cm)

	name := "e2e-optout-" + ns
	t.Cleanup(func() {
		_, _, _ = plane.Kubectl(context.Background(), "", "delete", "flinkhapolicies", name, "--ignore-not-found")
	})
	_, errOut, err = plane.Kubectl(ctx, `apiVersion: flink-ha-webhook.io/v1alpha1
kind: FlinkHAPolicy
metadata: {name: `+name+`}
spec:
  namespaceSelector: {matchLabels: {flink-optout-test: `+ns+`}}
  allowOptOut: false
`, "apply", "-f", "-")
	require.NoError(t, err, errOut)
	require.Eventually(t, func() bool { return optedOut() == 0 }, 30*time.Second, 100*time.Millisecond,
		"where the namespace's policy forbids opting out the safety net removes the owner: %s", server.Logs)
	cm, err = cms.Get(ctx, "orders-cluster-config-map", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, before, contents(t, cm), "nothing but owner references may change")
}

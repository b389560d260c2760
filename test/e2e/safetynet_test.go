package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// contents is everything of a ConfigMap but its owner references and
// bookkeeping, as stored bytes: what the safety net must never change.
func contents(t *testing.T, cm *corev1.ConfigMap) string {
	raw, err := json.Marshal(map[string]any{"data": cm.Data, "binaryData": cm.BinaryData, "annotations": cm.Annotations, "labels": cm.Labels})
	require.NoError(t, err)
	return string(raw)
}

// TestSafetyNetStripsWhatTheWebhookMissed takes the webhook down and lets
// owned HA ConfigMaps in (the webhook fails open, as it must), renews
// leadership in them by PATCH and by PUT during the outage, and expects the
// reconciler in the restarted binary to remove every owner reference added
// meanwhile, and change nothing else: data, binary data, annotations and
// labels keep their bytes; a ConfigMap that is not HA keeps its owner.
func TestSafetyNetStripsWhatTheWebhookMissed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns := plane.Namespace(t)
	cms := plane.Clientset.CoreV1().ConfigMaps(ns)

	server.Stop()
	restarted := false
	defer func() {
		if !restarted { // leave a webhook running for the tests after this one
			s, err := plane.ServeWebhook(webhookBin, testPolicy)
			require.NoError(t, err)
			server = s
		}
	}()

	owner, err := cms.Create(ctx, newConfigMap("owner"), metav1.CreateOptions{})
	require.NoError(t, err)
	const jobID = "8a4c9ad1f6c0e0b3d1b4e7e6a2f3c5d9"
	ha := []string{"billing-cluster-config-map", "billing-" + jobID + "-config-map", "billing-dispatcher-leader"}
	for i, name := range append(append([]string{}, ha...), "billing-rest-settings") {
		_, errOut, err := kubectlIn(ctx, ns, fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: %s
  labels: {app: billing, configmap-type: high-availability, type: flink-native-kubernetes}
  annotations:
    control-plane.alpha.kubernetes.io/leader: '{"holderIdentity":"jm-0","renewTime":"2026-11-24T07:00:00Z"}'
    note: "  spaces, a tab\tand unicode: \u00e9\u4e2d  "
  ownerReferences:
  - {apiVersion: v1, kind: ConfigMap, name: owner, uid: %s}
data:
  counter: "%d"
  checkpointID-0000000000000000042: "rO0ABXNyADtvcmcuYXBhY2hlLmZsaW5r\n  trailing  \n"
binaryData:
  blob: AAECAwT/
`, name, owner.UID, 9+i), "apply", "-f", "-")
		require.NoError(t, err, "with the webhook down the API server admits the ConfigMap (failurePolicy Ignore)")
		assert.NotContains(t, errOut, "removed", "nothing stripped it while the webhook was down")
	}
	// The REST settings are not HA data: they must keep their owner.
	rest, err := cms.Get(ctx, "billing-rest-settings", metav1.GetOptions{})
	require.NoError(t, err)
	delete(rest.Labels, "configmap-type")
	_, err = cms.Update(ctx, rest, metav1.UpdateOptions{})
	require.NoError(t, err)

	// Leadership renewed during the outage, as 1.18+ and as 1.15-1.17 do.
	admin := jobManager{client: plane.Clientset, ns: ns, name: ha[0]}
	for i := 1; i <= 5; i++ {
		require.NoError(t, admin.renewByPatch(ctx, i))
		require.NoError(t, admin.renewByPut(ctx, i+5))
	}
	before := map[string]string{}
	for _, name := range append(append([]string{}, ha...), "billing-rest-settings") {
		cm, err := cms.Get(ctx, name, metav1.GetOptions{})
		require.NoError(t, err)
		require.Len(t, cm.OwnerReferences, 1, name)
		before[name] = contents(t, cm)
	}

	server, err = plane.ServeWebhook(webhookBin, testPolicy)
	require.NoError(t, err)
	restarted = true
	start := time.Now()
	require.Eventually(t, func() bool {
		for _, name := range ha {
			cm, err := cms.Get(ctx, name, metav1.GetOptions{})
			if err != nil || len(cm.OwnerReferences) != 0 {
				return false
			}
		}
		return true
	}, 30*time.Second, 100*time.Millisecond, "the safety net should remove every owner reference: %s", server.Logs)
	t.Logf("owner references removed %s after the webhook came back", time.Since(start).Round(10*time.Millisecond))

	for name, want := range before {
		cm, err := cms.Get(ctx, name, metav1.GetOptions{})
		require.NoError(t, err)
		assert.Equal(t, want, contents(t, cm), "%s: nothing but owner references may change", name)
	}
	rest, err = cms.Get(ctx, "billing-rest-settings", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Len(t, rest.OwnerReferences, 1, "a ConfigMap that is not HA keeps its owner")
	removed, err := server.Metric(ctx, "flink_ha_webhook_safety_net_removals_total")
	require.NoError(t, err)
	assert.Equal(t, float64(len(ha)), removed, "one removal per HA ConfigMap")
}

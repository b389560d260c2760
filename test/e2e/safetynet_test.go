package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestSafetyNetStripsWhatTheWebhookMissed takes the webhook down, lets an
// owned HA ConfigMap in (the webhook fails open, as it must), and expects
// the reconciler in the restarted binary to remove the owner reference, and
// only that, within seconds.
func TestSafetyNetStripsWhatTheWebhookMissed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns := plane.Namespace(t)

	server.Stop()
	restarted := false
	defer func() {
		if !restarted { // leave a webhook running for the tests after this one
			s, err := plane.ServeWebhook(webhookBin, testPolicy)
			require.NoError(t, err)
			server = s
		}
	}()

	owner, err := plane.Clientset.CoreV1().ConfigMaps(ns).Create(ctx, newConfigMap("owner"), metav1.CreateOptions{})
	require.NoError(t, err)
	const leader = `{"holderIdentity":"jm-0","renewTime":"2026-11-24T07:00:00Z"}`
	_, errOut, err := kubectlIn(ctx, ns, fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: billing-cluster-config-map
  annotations:
    control-plane.alpha.kubernetes.io/leader: '%s'
  ownerReferences:
  - {apiVersion: v1, kind: ConfigMap, name: owner, uid: %s}
data:
  counter: "9"
`, leader, owner.UID), "apply", "-f", "-")
	require.NoError(t, err, "with the webhook down the API server admits the ConfigMap (failurePolicy Ignore)")
	assert.NotContains(t, errOut, "removed", "nothing stripped it while the webhook was down")
	cms := plane.Clientset.CoreV1().ConfigMaps(ns)
	cm, err := cms.Get(ctx, "billing-cluster-config-map", metav1.GetOptions{})
	require.NoError(t, err)
	require.Len(t, cm.OwnerReferences, 1)

	server, err = plane.ServeWebhook(webhookBin, testPolicy)
	require.NoError(t, err)
	restarted = true
	start := time.Now()
	require.Eventually(t, func() bool {
		cm, err := cms.Get(ctx, "billing-cluster-config-map", metav1.GetOptions{})
		return err == nil && len(cm.OwnerReferences) == 0
	}, 30*time.Second, 100*time.Millisecond, "the safety net should remove the owner reference: %s", server.Logs)
	t.Logf("owner reference removed %s after the webhook came back", time.Since(start).Round(10*time.Millisecond))

	after, err := cms.Get(ctx, "billing-cluster-config-map", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"counter": "9"}, after.Data)
	assert.Equal(t, leader, after.Annotations["control-plane.alpha.kubernetes.io/leader"])
	removed, err := server.Metric(ctx, "flink_ha_webhook_safety_net_removals_total")
	require.NoError(t, err)
	assert.Equal(t, 1.0, removed)
}

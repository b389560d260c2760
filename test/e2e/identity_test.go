package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
	"github.com/flink-ha-webhook/flink-ha-webhook/rights"
)

// TestDefaultAccountWithAnIdentityKeepsFlink: in a namespace whose
// default account (made by the controller manager) carries an IAM role
// for service accounts, a JobManager without an account stays under
// default, whose identity the webhook's account would not carry. The
// account may not run HA, so HA is held back; bound, the JobManager's next
// change is made HA, still under default.
func TestDefaultAccountWithAnIdentityKeepsFlink(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns := plane.Namespace(t)
	require.Eventually(t, func() bool {
		_, err := plane.Clientset.CoreV1().ServiceAccounts(ns).Patch(ctx, "default", types.MergePatchType,
			[]byte(`{"metadata":{"annotations":{"eks.amazonaws.com/role-arn":"arn:aws:iam::111122223333:role/flink"}}}`), metav1.PatchOptions{})
		return err == nil
	}, 20*time.Second, 100*time.Millisecond, "the controller manager should make the namespace's default account")
	jobManager := func(label string) string {
		return strings.ReplaceAll(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: orders-jobmanager
  labels: {change: "LABEL"}
spec:
  replicas: 0
  selector: {matchLabels: {app: orders, component: jobmanager}}
  template:
    metadata:
      labels: {app: orders, component: jobmanager}
    spec:
      containers:
      - name: jobmanager
        image: flink:1.20
        args: [jobmanager]
        env:
        - {name: FLINK_PROPERTIES, value: "kubernetes.cluster-id: orders\n"}
`, "LABEL", label)
	}
	const heldBack = "Warning: spec.template.spec.serviceAccountName: HA not turned on: account default lacks what HA needs on configmaps"
	untilWarned(ctx, t, ns, jobManager("a"), heldBack)
	_, errOut, err := kubectlIn(ctx, ns, jobManager("a"), "apply", "-f", "-")
	require.NoError(t, err, errOut)
	assert.Contains(t, errOut, heldBack+"\n")
	assert.Contains(t, errOut, "or name an account of your own that the identity of its eks.amazonaws.com/role-arn trusts "+
		"(the webhook keeps Flink under default, since flink-ha would lose it)")
	jm, err := plane.Clientset.AppsV1().Deployments(ns).Get(ctx, "orders-jobmanager", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Empty(t, jm.Spec.Template.Spec.ServiceAccountName, "still under default")
	assert.Equal(t, "kubernetes.cluster-id: orders\n", jm.Spec.Template.Spec.Containers[0].Env[0].Value, "without HA")

	bindRole(ctx, t, ns, "default", rights.Rules(rights.Standalone, flinkconf.Exactly(flinkconf.V1_20)))
	untilMadeHA(ctx, t, ns, jobManager("b"))
	_, errOut, err = kubectlIn(ctx, ns, jobManager("b"), "apply", "-f", "-")
	require.NoError(t, err, errOut)
	assert.Contains(t, errOut, "Warning: spec.template.spec.serviceAccountName: kept default, whose eks.amazonaws.com/role-arn flink-ha would not carry\n")
	jm, err = plane.Clientset.AppsV1().Deployments(ns).Get(ctx, "orders-jobmanager", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Empty(t, jm.Spec.Template.Spec.ServiceAccountName, "still under default")
	var props string
	for _, e := range jm.Spec.Template.Spec.Containers[0].Env {
		if e.Name == "FLINK_PROPERTIES" {
			props = e.Value
		}
	}
	assert.Contains(t, props, "high-availability.storageDir: s3://flink-ha/"+ns+"/orders", "made HA")
}

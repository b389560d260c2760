package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
	"github.com/flink-ha-webhook/flink-ha-webhook/rights"
)

// TestFlinkDeploymentHAWaitsForItsAccount: a FlinkDeployment without HA
// runs under an account of the user's choosing that the real authorizer
// allows nothing. Under the default checkAccounts: warn the webhook does
// not turn HA on for it, since its JobManager would fail at its next
// start: kubectl apply stores it as written and prints why and how to fix
// it. Once the account is bound to what a native cluster needs, the next
// change of the FlinkDeployment is made HA.
func TestFlinkDeploymentHAWaitsForItsAccount(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns := plane.Namespace(t)
	_, err := plane.Clientset.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "mine"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	fd := func(slots string) string {
		return strings.ReplaceAll(`apiVersion: flink.apache.org/v1beta1
kind: FlinkDeployment
metadata:
  name: orders
spec:
  image: flink:1.20
  flinkVersion: v1_20
  serviceAccount: mine
  flinkConfiguration:
    taskmanager.numberOfTaskSlots: "SLOTS"
  jobManager:
    resource: {memory: "2048m", cpu: 1}
  taskManager:
    resource: {memory: "2048m", cpu: 1}
`, "SLOTS", slots)
	}
	const heldBack = "Warning: spec.serviceAccount: HA not turned on: account mine may not get, list, watch, create, update, patch, delete configmaps"
	// The first review of an account waits for the authorizer only
	// briefly; server-side dry runs, which store nothing, ask until the
	// webhook knows the answer.
	var errOut string
	require.Eventually(t, func() bool {
		_, errOut, err = kubectlIn(ctx, ns, fd("2"), "apply", "--dry-run=server", "-f", "-")
		return err == nil && strings.Contains(errOut, heldBack)
	}, 30*time.Second, 200*time.Millisecond, "the webhook should learn that the account may do nothing: %v %s", err, errOut)

	out, errOut, err := kubectlIn(ctx, ns, fd("2"), "apply", "-f", "-")
	require.NoError(t, err, errOut)
	assert.Equal(t, "flinkdeployment.flink.apache.org/orders created\n", out)
	assert.Contains(t, errOut, heldBack+"\n")
	var lacks []string
	for _, a := range rights.Needs(rights.Native, flinkconf.Exactly(flinkconf.V1_20)) {
		lacks = append(lacks, a.Verb+" "+a.Resource)
	}
	assert.Contains(t, errOut, `Warning: spec.serviceAccount: Invalid value: "mine": may not `+strings.Join(lacks, ", ")+` in `+ns+
		`, which the JobManager needs with Flink's HA, so HA is not turned on: bind it to a Role that allows it, `+
		`or leave the account to the webhook (flink-ha), and apply the FlinkDeployment again`+"\n")
	assert.NotContains(t, errOut, "requires HA", "the policy's requirement of HA waits for the account")
	conf, _, err := kubectlIn(ctx, ns, "", "get", "flinkdeployment", "orders", "-o", "jsonpath={.spec.flinkConfiguration}")
	require.NoError(t, err)
	assert.JSONEq(t, `{"taskmanager.numberOfTaskSlots":"2"}`, conf, "stored as written: no HA for a JobManager that could not run it")

	bindRole(ctx, t, ns, "mine", rights.Rules(rights.Native, flinkconf.Exactly(flinkconf.V1_20)))
	// The webhook keeps an answer and asks again in the background once
	// it is 30 s old: a review after that gets the new one.
	require.Eventually(t, func() bool {
		_, errOut, err = kubectlIn(ctx, ns, fd("3"), "apply", "--dry-run=server", "-f", "-")
		return err == nil && !strings.Contains(errOut, "HA not turned on")
	}, 90*time.Second, time.Second, "the bound account should get HA: %v %s", err, errOut)
	out, errOut, err = kubectlIn(ctx, ns, fd("3"), "apply", "-f", "-")
	require.NoError(t, err, errOut)
	assert.Equal(t, "flinkdeployment.flink.apache.org/orders configured\n", out)
	assert.NotContains(t, errOut, "spec.serviceAccount: Invalid value", "the bound account lacks nothing")
	conf, _, err = kubectlIn(ctx, ns, "", "get", "flinkdeployment", "orders", "-o", "jsonpath={.spec.flinkConfiguration}")
	require.NoError(t, err)
	assert.JSONEq(t, `{"taskmanager.numberOfTaskSlots":"3","high-availability.type":"kubernetes",`+
		`"high-availability.storageDir":"s3://flink-ha/`+ns+`/orders"}`, conf, "made HA on its next change")
}

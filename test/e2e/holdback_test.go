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
	const heldBack = "Warning: spec.serviceAccount: HA not turned on: account mine lacks what HA needs on configmaps"
	untilWarned(ctx, t, ns, fd("2"), heldBack)
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
		`or leave the account to the webhook (flink-ha); the next change of this FlinkDeployment turns it on`+"\n")
	assert.NotContains(t, errOut, "requires HA", "the policy's requirement of HA waits for the account")
	conf, _, err := kubectlIn(ctx, ns, "", "get", "flinkdeployment", "orders", "-o", "jsonpath={.spec.flinkConfiguration}")
	require.NoError(t, err)
	assert.JSONEq(t, `{"taskmanager.numberOfTaskSlots":"2"}`, conf, "stored as written: no HA for a JobManager that could not run it")

	bindRole(ctx, t, ns, "mine", rights.Rules(rights.Native, flinkconf.Exactly(flinkconf.V1_20)))
	untilMadeHA(ctx, t, ns, fd("3"))
	out, errOut, err = kubectlIn(ctx, ns, fd("3"), "apply", "-f", "-")
	require.NoError(t, err, errOut)
	assert.Equal(t, "flinkdeployment.flink.apache.org/orders configured\n", out)
	assert.NotContains(t, errOut, "spec.serviceAccount: Invalid value", "the bound account lacks nothing")
	conf, _, err = kubectlIn(ctx, ns, "", "get", "flinkdeployment", "orders", "-o", "jsonpath={.spec.flinkConfiguration}")
	require.NoError(t, err)
	assert.JSONEq(t, `{"taskmanager.numberOfTaskSlots":"3","high-availability.type":"kubernetes",`+
		`"high-availability.storageDir":"s3://flink-ha/`+ns+`/orders"}`, conf, "made HA on its next change")
}

// TestStandaloneHAWaitsForItsAccounts: a standalone cluster of the Flink
// docs whose JobManager and TaskManagers run under an account the real
// authorizer allows nothing, its Deployments applied before its
// ConfigMap (as a running cluster's are when its manifests are applied
// again). The webhook holds HA back for the whole cluster: the
// Deployments get no pod IP, the ConfigMap no HA keys, and kubectl prints
// which workload's account holds it back. Once the account is bound, the
// ConfigMap's next change is made HA, and so is the JobManager's.
func TestStandaloneHAWaitsForItsAccounts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns := plane.Namespace(t)
	_, err := plane.Clientset.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "mine"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	workload := func(role, label string) string {
		return strings.NewReplacer("ROLE", role, "LABEL", label).Replace(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: flink-ROLE
  labels: {app: flink, change: "LABEL"}
spec:
  selector: {matchLabels: {app: flink, component: ROLE}}
  template:
    metadata:
      labels: {app: flink, component: ROLE}
    spec:
      serviceAccountName: mine
      containers:
      - name: ROLE
        image: flink:1.20
        args: [ROLE]
        volumeMounts:
        - {name: flink-config-volume, mountPath: /opt/flink/conf}
      volumes:
      - name: flink-config-volume
        configMap: {name: flink-config}
`)
	}
	configMap := func(slots string) string {
		return strings.ReplaceAll(`apiVersion: v1
kind: ConfigMap
metadata:
  name: flink-config
data:
  flink-conf.yaml: |
    kubernetes.cluster-id: orders
    jobmanager.rpc.address: flink-jobmanager
    taskmanager.numberOfTaskSlots: SLOTS
`, "SLOTS", slots)
	}
	const ownHeldBack = "Warning: spec.template.spec.serviceAccountName: HA not turned on: account mine lacks what HA needs on configmaps"
	untilWarned(ctx, t, ns, workload("jobmanager", "a"), ownHeldBack)
	_, errOut, err := kubectlIn(ctx, ns, workload("jobmanager", "a"), "apply", "-f", "-")
	require.NoError(t, err, errOut)
	assert.Contains(t, errOut, ownHeldBack+"\n")
	// The TaskManagers get nothing either way; the validating webhook
	// names both accounts.
	_, errOut, err = kubectlIn(ctx, ns, workload("taskmanager", "a"), "apply", "-f", "-")
	require.NoError(t, err, errOut)
	assert.Contains(t, errOut, "Warning: Deployment/flink-jobmanager spec.template.spec.serviceAccountName: Invalid value: \"mine\": may not get configmaps")
	assert.Contains(t, errOut, "which the TaskManagers need with Flink's HA, so HA is not turned on")
	jm, err := plane.Clientset.AppsV1().Deployments(ns).Get(ctx, "flink-jobmanager", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Empty(t, jm.Spec.Template.Spec.Containers[0].Env, "no pod IP: without HA the TaskManagers reach the JobManager by its Service")
	assert.Equal(t, []string{"jobmanager"}, jm.Spec.Template.Spec.Containers[0].Args)

	// The webhook reads the Deployments from its cache, which learns of
	// them from its watch.
	const ofJobManager = "Warning: HA not turned on: account mine of Deployment/flink-jobmanager lacks what HA needs on configmaps"
	untilWarned(ctx, t, ns, configMap("2"), ofJobManager)
	out, errOut, err := kubectlIn(ctx, ns, configMap("2"), "apply", "-f", "-")
	require.NoError(t, err, errOut)
	assert.Equal(t, "configmap/flink-config created\n", out)
	assert.Contains(t, errOut, ofJobManager+"\n")
	assert.Contains(t, errOut, "Warning: Deployment/flink-taskmanager spec.template.spec.serviceAccountName: Invalid value: \"mine\": "+
		"may not list configmaps, watch configmaps in "+ns+", which the TaskManagers need with Flink's HA, so HA is not turned on: "+
		"bind it to a Role that allows it, or leave the account to the webhook (flink-ha); the next change of this ConfigMap turns it on\n")
	cm, err := plane.Clientset.CoreV1().ConfigMaps(ns).Get(ctx, "flink-config", metav1.GetOptions{})
	require.NoError(t, err)
	assert.NotContains(t, cm.Data["flink-conf.yaml"], "high-availability", "stored as written")

	bindRole(ctx, t, ns, "mine", rights.Rules(rights.Standalone, flinkconf.Exactly(flinkconf.V1_20)))
	untilMadeHA(ctx, t, ns, configMap("3"))
	_, errOut, err = kubectlIn(ctx, ns, configMap("3"), "apply", "-f", "-")
	require.NoError(t, err, errOut)
	cm, err = plane.Clientset.CoreV1().ConfigMaps(ns).Get(ctx, "flink-config", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Contains(t, cm.Data["flink-conf.yaml"], "high-availability.storageDir: s3://flink-ha/"+ns+"/orders\n", "made HA on its next change")
	_, errOut, err = kubectlIn(ctx, ns, workload("jobmanager", "b"), "apply", "-f", "-")
	require.NoError(t, err, errOut)
	jm, err = plane.Clientset.AppsV1().Deployments(ns).Get(ctx, "flink-jobmanager", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "POD_IP", jm.Spec.Template.Spec.Containers[0].Env[0].Name, "the JobManager advertises its pod IP once its cluster is HA")
}

// untilWarned dry-runs manifest in namespace ns until kubectl prints
// warning: the first review of an account waits for the authorizer only
// briefly, and the webhook's cache learns of new objects from its watch.
// A server-side dry run stores nothing.
func untilWarned(ctx context.Context, t *testing.T, ns, manifest, warning string) {
	t.Helper()
	require.Eventually(t, func() bool {
		_, errOut, err := kubectlIn(ctx, ns, manifest, "apply", "--dry-run=server", "-f", "-")
		return err == nil && strings.Contains(errOut, warning)
	}, 30*time.Second, 200*time.Millisecond, "kubectl should print %q", warning)
}

// untilMadeHA dry-runs manifest in namespace ns until the webhook no
// longer holds HA back: it keeps an answer and asks again in the
// background once it is 30 s old, and a review after that gets the new one.
func untilMadeHA(ctx context.Context, t *testing.T, ns, manifest string) {
	t.Helper()
	require.Eventually(t, func() bool {
		_, errOut, err := kubectlIn(ctx, ns, manifest, "apply", "--dry-run=server", "-f", "-")
		return err == nil && !strings.Contains(errOut, "HA not turned on")
	}, 90*time.Second, time.Second, "the bound account should get HA")
}

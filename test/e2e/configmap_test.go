package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// kubectlIn runs the real kubectl in namespace ns and returns stdout and
// stderr; err is kubectl's failure, if any.
func kubectlIn(ctx context.Context, ns, stdin string, args ...string) (string, string, error) {
	return plane.Kubectl(ctx, stdin, append([]string{"--namespace", ns}, args...)...)
}

const flinkConfig = `apiVersion: v1
kind: ConfigMap
metadata:
  name: flink-config
  labels: {app: flink}
data:
  flink-conf.yaml: |
    jobmanager.rpc.address: flink-jobmanager
    kubernetes.cluster-id: reports
    taskmanager.numberOfTaskSlots: 2
    parallelism.default: 2
  log4j-console.properties: |
    rootLogger.level = INFO
`

func TestConfigMapIsMadeHighlyAvailable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := plane.Namespace(t)

	out, errOut, err := kubectlIn(ctx, ns, flinkConfig, "apply", "-f", "-")
	require.NoError(t, err)
	assert.Contains(t, out, "configmap/flink-config created")
	assert.Contains(t, errOut, "Warning: data[flink-conf.yaml]: set high-availability: org.apache.flink.kubernetes.highavailability.KubernetesHaServicesFactory")

	cm, err := plane.Clientset.CoreV1().ConfigMaps(ns).Get(ctx, "flink-config", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, `jobmanager.rpc.address: flink-jobmanager
kubernetes.cluster-id: reports
taskmanager.numberOfTaskSlots: 2
parallelism.default: 2
high-availability: org.apache.flink.kubernetes.highavailability.KubernetesHaServicesFactory
high-availability.storageDir: s3://flink-ha/`+ns+`/reports
high-availability.cluster-id: reports
`, cm.Data["flink-conf.yaml"])
	assert.Equal(t, "rootLogger.level = INFO\n", cm.Data["log4j-console.properties"], "other keys are untouched")

	// Applying the same manifest again does not drift: kubectl sends the
	// manifest's flink-conf.yaml back (it differs from the stored one), the
	// webhook adds the same keys, and the API server stores nothing new.
	_, _, err = kubectlIn(ctx, ns, flinkConfig, "apply", "-f", "-")
	require.NoError(t, err)
	again, err := plane.Clientset.CoreV1().ConfigMaps(ns).Get(ctx, "flink-config", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, cm.ResourceVersion, again.ResourceVersion, "a second apply must not change the object")
	assert.Equal(t, cm.Data, again.Data)
}

func TestConfigMapWithoutClusterIDIsDenied(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := plane.Namespace(t)
	manifest := strings.Replace(flinkConfig, "    kubernetes.cluster-id: reports\n", "", 1)

	_, errOut, err := kubectlIn(ctx, ns, manifest, "apply", "-f", "-")
	require.Error(t, err)
	// The policy derives the storageDir from the cluster-id: it is the one
	// thing to add, and the denial says so and nothing else.
	assert.Contains(t, errOut, `data[flink-conf.yaml][kubernetes.cluster-id]: Required value: the one thing to add: `+
		`Kubernetes HA names its ConfigMaps after it and the policy's storageDir follows from it`)
	assert.NotContains(t, errOut, `high-availability.storageDir]: Required value`)
	assert.NotContains(t, errOut, `Warning: data[flink-conf.yaml]: set`, "a denied object gets no change warnings")
	_, err = plane.Clientset.CoreV1().ConfigMaps(ns).Get(ctx, "flink-config", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "a denied ConfigMap is not stored")
}

func TestDryRunAndServerSideApplyDoNotDrift(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := plane.Namespace(t)

	for i := 0; i < 2; i++ {
		out, errOut, err := kubectlIn(ctx, ns, flinkConfig, "apply", "--dry-run=server", "-o", "yaml", "-f", "-")
		require.NoError(t, err)
		assert.Contains(t, out, "high-availability.storageDir: s3://flink-ha/"+ns+"/reports", "dry run %d shows the mutation", i)
		assert.Contains(t, errOut, "Warning: data[flink-conf.yaml]: set high-availability: org.apache.flink.kubernetes.highavailability.KubernetesHaServicesFactory")
	}
	_, err := plane.Clientset.CoreV1().ConfigMaps(ns).Get(ctx, "flink-config", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "a dry run stores nothing")

	var versions []string
	for i := 0; i < 2; i++ {
		_, _, err := kubectlIn(ctx, ns, flinkConfig, "apply", "--server-side", "--field-manager=ci", "-f", "-")
		require.NoError(t, err)
		cm, err := plane.Clientset.CoreV1().ConfigMaps(ns).Get(ctx, "flink-config", metav1.GetOptions{})
		require.NoError(t, err)
		assert.Contains(t, cm.Data["flink-conf.yaml"], "high-availability: org.apache.flink.kubernetes.highavailability.KubernetesHaServicesFactory")
		versions = append(versions, cm.ResourceVersion)
	}
	assert.Equal(t, versions[0], versions[1], "a second server-side apply must not change the object")
}

// TestHAConfigMapsSurviveTheirCluster is the project's promise end to end:
// a JobManager whose HA ConfigMaps are owned by its Deployment (as the
// Spotify operator makes them) is deleted, and the HA state remains.
func TestHAConfigMapsSurviveTheirCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns := plane.Namespace(t)
	const jobID = "8a4c9ad1f6c0e0b3d1b4e7e6a2f3c5d9"
	jobManager := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: orders
  labels: {app: orders, component: jobmanager}
spec:
  replicas: 1
  selector: {matchLabels: {app: orders, component: jobmanager}}
  template:
    metadata:
      labels: {app: orders, component: jobmanager}
    spec:
      containers:
      - name: jobmanager
        image: flink:1.20
        args: ["jobmanager"]
`
	_, _, err := kubectlIn(ctx, ns, jobManager, "apply", "-f", "-")
	require.NoError(t, err)
	uid, _, err := kubectlIn(ctx, ns, "", "get", "deployment", "orders", "-o", "jsonpath={.metadata.uid}")
	require.NoError(t, err)

	owned := func(name, data string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: %s
  labels: {app: orders, type: flink-native-kubernetes, configmap-type: high-availability}
  ownerReferences:
  - {apiVersion: apps/v1, kind: Deployment, name: orders, uid: %s}
data:
%s`, name, uid, data)
	}
	// What the simulated JobManager writes, owned like the Spotify operator
	// owns it, and one ConfigMap that is not HA data and must go with it.
	manifest := owned("orders-cluster-config-map", "  counter: \"1\"\n") + "\n---\n" +
		owned("orders-"+jobID+"-config-map", "  checkpointID-0000000000000000042: pointer-to-s3\n  counter: \"43\"\n") + "\n---\n" +
		strings.Replace(owned("orders-rest-settings", "  k: v\n"), "configmap-type: high-availability", "component: rest", 1)
	_, errOut, err := kubectlIn(ctx, ns, manifest, "apply", "-f", "-")
	require.NoError(t, err)
	assert.Contains(t, errOut, "removed 1 owner reference(s): Flink HA ConfigMaps must outlive their cluster")

	cms := plane.Clientset.CoreV1().ConfigMaps(ns)
	for _, name := range []string{"orders-cluster-config-map", "orders-" + jobID + "-config-map"} {
		cm, err := cms.Get(ctx, name, metav1.GetOptions{})
		require.NoError(t, err)
		assert.Empty(t, cm.OwnerReferences, "%s keeps no owner", name)
	}
	rest, err := cms.Get(ctx, "orders-rest-settings", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Len(t, rest.OwnerReferences, 1, "a ConfigMap that is not HA data keeps its owner")

	// Leadership renewals: UPDATEs of the HA ConfigMap's leader annotation,
	// as Flink makes every few seconds. None may reach the webhook.
	before, err := server.Metric(ctx, "flink_ha_webhook_admission_requests_total", "kind=ConfigMap", "operation=UPDATE")
	require.NoError(t, err)
	for i := 0; i < 20; i++ {
		cm, err := cms.Get(ctx, "orders-cluster-config-map", metav1.GetOptions{})
		require.NoError(t, err)
		if cm.Annotations == nil {
			cm.Annotations = map[string]string{}
		}
		cm.Annotations["control-plane.alpha.kubernetes.io/leader"] = fmt.Sprintf(`{"holderIdentity":"jm-0","renewTime":"%d"}`, i)
		_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
		require.NoError(t, err)
	}
	after, err := server.Metric(ctx, "flink_ha_webhook_admission_requests_total", "kind=ConfigMap", "operation=UPDATE")
	require.NoError(t, err)
	assert.Equal(t, before, after, "leader renewals must never reach the webhook")
	strips, err := server.Metric(ctx, "flink_ha_webhook_changes_total", "kind=ConfigMap", "rule=strip-owner-references")
	require.NoError(t, err)
	assert.GreaterOrEqual(t, strips, 2.0)

	_, _, err = kubectlIn(ctx, ns, "", "delete", "deployment", "orders", "--wait=true")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, err := cms.Get(ctx, "orders-rest-settings", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	}, time.Minute, 200*time.Millisecond, "the garbage collector should take what the Deployment owns")

	// Re-applying the cluster finds its HA state as it was.
	_, _, err = kubectlIn(ctx, ns, jobManager, "apply", "-f", "-")
	require.NoError(t, err)
	cm, err := cms.Get(ctx, "orders-"+jobID+"-config-map", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"checkpointID-0000000000000000042": "pointer-to-s3", "counter": "43"}, cm.Data)
	leader, err := cms.Get(ctx, "orders-cluster-config-map", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, `{"holderIdentity":"jm-0","renewTime":"19"}`, leader.Annotations["control-plane.alpha.kubernetes.io/leader"])
}

func newConfigMap(name string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"k": "v"}}
}

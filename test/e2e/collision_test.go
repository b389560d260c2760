package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestCollidingClustersAreDenied applies a cluster, then a second one with
// its cluster-id in the same namespace, and a third elsewhere that points
// its HA storage path at the first's: both are denied, naming the first. A
// re-apply of the first, and its JobManager, are not collisions.
func TestCollidingClustersAreDenied(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns, elsewhere := plane.Namespace(t), plane.Namespace(t)
	config := func(name, conf string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + name + "}\ndata:\n  flink-conf.yaml: |\n    " +
			strings.ReplaceAll(strings.TrimSpace(conf), "\n", "\n    ") + "\n"
	}
	_, _, err := kubectlIn(ctx, ns, config("orders", "kubernetes.cluster-id: orders"), "apply", "-f", "-")
	require.NoError(t, err)
	cm, err := plane.Clientset.CoreV1().ConfigMaps(ns).Get(ctx, "orders", metav1.GetOptions{})
	require.NoError(t, err)
	path := "s3://flink-ha/" + ns + "/orders/orders"
	delete(cm.Annotations, "kubectl.kubernetes.io/last-applied-configuration")
	assert.Equal(t, map[string]string{
		"flink-ha-webhook/cluster":         ns + "/ConfigMap/orders",
		"flink-ha-webhook/cluster-id":      "orders",
		"flink-ha-webhook/ha-storage-path": path,
	}, cm.Annotations, "the mutating webhook records what it recognised")

	var errOut string
	require.Eventually(t, func() bool {
		_, errOut, err = kubectlIn(ctx, ns, config("orders-v2", "kubernetes.cluster-id: orders"), "apply", "-f", "-")
		return err != nil
	}, 10*time.Second, 100*time.Millisecond, "the second cluster with one cluster-id is denied once the cache has the first")
	_, denial, _ := strings.Cut(errOut, "The ConfigMap") // after the mutating rules' warnings
	assert.Equal(t, ` "orders-v2" is invalid: 
* metadata.annotations[flink-ha-webhook/cluster-id]: Invalid value: "orders": cluster-id "orders" is already used by ConfigMap/orders in namespace `+ns+`: two clusters with one cluster-id fight over leadership and recover each other's jobs; give this cluster another kubernetes.cluster-id (a FlinkDeployment's is its name)
* metadata.annotations[flink-ha-webhook/ha-storage-path]: Invalid value: "`+path+`": HA storage path `+path+` is already used by ConfigMap/orders in namespace `+ns+`: clusters sharing it overwrite each other's job graphs and checkpoint pointers; give this cluster its own high-availability.storageDir or high-availability.cluster-id
`, denial)

	_, errOut, err = kubectlIn(ctx, elsewhere, config("copy", `
kubernetes.cluster-id: copy
high-availability.type: kubernetes
high-availability.storageDir: s3://flink-ha/`+ns+`/orders
high-availability.cluster-id: orders`), "apply", "-f", "-")
	require.Error(t, err, "a cluster anywhere pointing at another's HA storage path is denied")
	assert.Contains(t, errOut, `HA storage path `+path+` is already used by ConfigMap/orders in namespace `+ns+`: `)

	_, errOut, err = kubectlIn(ctx, ns, config("orders", "kubernetes.cluster-id: orders\nparallelism.default: 4"), "apply", "-f", "-")
	require.NoError(t, err, "re-applying the same cluster is not a collision: %s", errOut)
	_, errOut, err = kubectlIn(ctx, ns, `apiVersion: apps/v1
kind: Deployment
metadata: {name: orders-jobmanager}
spec:
  selector: {matchLabels: {app: orders, component: jobmanager}}
  template:
    metadata: {labels: {app: orders, component: jobmanager}}
    spec:
      containers:
      - name: jobmanager
        image: flink:1.20
        args: [jobmanager, -Dkubernetes.cluster-id=orders]
        volumeMounts: [{name: conf, mountPath: /opt/flink/conf}]
      volumes:
      - {name: conf, configMap: {name: orders}}
`, "apply", "-f", "-")
	require.NoError(t, err, "the JobManager mounting the configuration is the same cluster: %s", errOut)
}

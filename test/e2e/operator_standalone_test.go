package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// operatorStandaloneObjects are what the Flink Kubernetes Operator makes
// for a FlinkDeployment name in standalone mode: the configuration it
// renders (flink-config-<name>) and the JobManager Deployment mounting it,
// both typed flink-standalone-kubernetes (StandaloneKubernetesUtils), the
// JobManager advertising its pod IP through Flink's own variable when HA
// is on (CmdStandaloneJobManagerDecorator). conf is the rendered file.
func operatorStandaloneObjects(name, conf string, ha bool) string {
	args := "[jobmanager]"
	if ha {
		args = "[jobmanager, -D, jobmanager.rpc.address=$(_POD_IP_ADDRESS)]"
	}
	return fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: flink-config-%[1]s
  labels: {app: %[1]s, type: flink-standalone-kubernetes}
data:
  flink-conf.yaml: |
%[2]s  log4j-console.properties: |
    rootLogger.level = INFO
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
  labels: {app: %[1]s, component: jobmanager, type: flink-standalone-kubernetes}
spec:
  replicas: 1
  selector:
    matchLabels: {app: %[1]s, component: jobmanager, type: flink-standalone-kubernetes}
  template:
    metadata:
      labels: {app: %[1]s, component: jobmanager, type: flink-standalone-kubernetes}
    spec:
      serviceAccountName: flink-ha
      containers:
      - name: flink-main-container
        image: flink:1.18
        command: [/docker-entrypoint.sh]
        args: %[3]s
        env:
        - name: _POD_IP_ADDRESS
          valueFrom:
            fieldRef: {apiVersion: v1, fieldPath: status.podIP}
        volumeMounts:
        - {name: flink-config-volume, mountPath: /opt/flink/conf}
      volumes:
      - name: flink-config-volume
        configMap:
          name: flink-config-%[1]s
`, name, strings.TrimSuffix(strings.ReplaceAll("    "+conf, "\n", "\n    "), "    "), args)
}

// TestOperatorStandaloneObjectsAreLeftAlone applies FlinkDeployments in
// standalone mode, one HA and one opted out, then what the operator makes
// of each: the webhook judged the cluster at its FlinkDeployment, so the
// operator's own objects are admitted as they are, neither changed nor
// taken for another cluster with the same cluster-id.
func TestOperatorStandaloneObjectsAreLeftAlone(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns := plane.Namespace(t)
	fd := func(name, annotations string) string {
		return fmt.Sprintf(`apiVersion: flink.apache.org/v1beta1
kind: FlinkDeployment
metadata:
  name: %s
  annotations: {%s}
spec:
  image: flink:1.18
  flinkVersion: v1_18
  mode: standalone
  serviceAccount: flink-ha
  jobManager: {resource: {memory: 2048m, cpu: 1}}
  taskManager: {resource: {memory: 2048m, cpu: 1}}
`, name, annotations)
	}
	_, _, err := kubectlIn(ctx, ns, fd("orders", "")+"---\n"+fd("adhoc", `flink-ha-webhook/ha: "off"`), "apply", "-f", "-")
	require.NoError(t, err)

	// The rendered configuration: the FlinkDeployment's, as stored, with
	// what the operator adds (FlinkConfigBuilder.build; with HA also
	// KubernetesStandaloneClusterDescriptor's cluster-id and port).
	haConf := fmt.Sprintf("high-availability.type: kubernetes\nhigh-availability.storageDir: s3://flink-ha/%s/orders\n"+
		"kubernetes.cluster-id: orders\nkubernetes.namespace: %s\nhigh-availability.cluster-id: orders\n"+
		"high-availability.jobmanager.port: 6123\njobmanager.rpc.address: orders.%s\n", ns, ns, ns)
	plainConf := fmt.Sprintf("kubernetes.cluster-id: adhoc\nkubernetes.namespace: %s\njobmanager.rpc.address: adhoc.%s\n", ns, ns)
	for _, tc := range []struct {
		name, conf string
		ha         bool
	}{{"orders", haConf, true}, {"adhoc", plainConf, false}} {
		manifest := operatorStandaloneObjects(tc.name, tc.conf, tc.ha)
		_, errOut, err := kubectlIn(ctx, ns, manifest, "create", "-f", "-")
		require.NoError(t, err, "%s: %s", tc.name, errOut)
		assert.NotContains(t, errOut, "Warning", tc.name)
		cm, err := plane.Clientset.CoreV1().ConfigMaps(ns).Get(ctx, "flink-config-"+tc.name, metav1.GetOptions{})
		require.NoError(t, err)
		assert.Equal(t, tc.conf, cm.Data["flink-conf.yaml"], tc.name)
		jm, err := plane.Clientset.AppsV1().Deployments(ns).Get(ctx, tc.name, metav1.GetOptions{})
		require.NoError(t, err)
		assert.Len(t, jm.Spec.Template.Spec.Containers[0].Env, 1, "%s: no POD_IP added", tc.name)
	}
}

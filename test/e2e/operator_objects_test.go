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

// operatorObjects are what the Flink Kubernetes Operator makes for a
// FlinkDeployment name: the configuration it renders (flink-config-<name>)
// and the JobManager Deployment mounting it. In standalone mode both are
// typed flink-standalone-kubernetes (StandaloneKubernetesUtils) and the
// JobManager advertises its pod IP through Flink's own variable when HA is
// on, as its positional host in the released operators (1.2 to 1.15;
// CmdStandaloneJobManagerDecorator; the golden case
// operator-standalone-jobmanager has main's -D); in native mode Flink's client
// makes them, typed flink-native-kubernetes, and the JobManager starts
// through kubernetes-jobmanager.sh (CmdJobManagerDecorator). conf is the
// rendered file.
func operatorObjects(name, mode, conf string, ha bool) string {
	typ, args := "flink-standalone-kubernetes", "[jobmanager]"
	switch {
	case mode == "native":
		typ, args = "flink-native-kubernetes", "[kubernetes-jobmanager.sh, kubernetes-session]"
	case ha:
		args = "[jobmanager, $(_POD_IP_ADDRESS)]"
	}
	return fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: flink-config-%[1]s
  labels: {app: %[1]s, type: %[4]s}
data:
  flink-conf.yaml: |
%[2]s  log4j-console.properties: |
    rootLogger.level = INFO
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
  labels: {app: %[1]s, component: jobmanager, type: %[4]s}
spec:
  replicas: 1
  selector:
    matchLabels: {app: %[1]s, component: jobmanager, type: %[4]s}
  template:
    metadata:
      labels: {app: %[1]s, component: jobmanager, type: %[4]s}
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
`, name, strings.TrimSuffix(strings.ReplaceAll("    "+conf, "\n", "\n    "), "    "), args, typ)
}

// TestOperatorObjectsAreLeftAlone applies FlinkDeployments, in standalone
// mode one HA and one opted out and in native mode one HA, then what the
// operator makes of each: the webhook judged the cluster at its
// FlinkDeployment, so the operator's own objects are admitted as they
// are, neither changed nor taken for another cluster with the same
// cluster-id.
func TestOperatorObjectsAreLeftAlone(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns := plane.Namespace(t)
	fd := func(name, mode, annotations string) string {
		return fmt.Sprintf(`apiVersion: flink.apache.org/v1beta1
kind: FlinkDeployment
metadata:
  name: %s
  annotations: {%s}
spec:
  image: flink:1.18
  flinkVersion: v1_18
  mode: %s
  serviceAccount: flink-ha
  jobManager: {resource: {memory: 2048m, cpu: 1}}
  taskManager: {resource: {memory: 2048m, cpu: 1}}
`, name, annotations, mode)
	}
	_, _, err := kubectlIn(ctx, ns, fd("orders", "standalone", "")+"---\n"+fd("adhoc", "standalone", `flink-ha-webhook/ha: "off"`)+
		"---\n"+fd("events", "native", ""), "apply", "-f", "-")
	require.NoError(t, err)

	// The rendered configuration: the FlinkDeployment's, as stored, with
	// what the operator adds (FlinkConfigBuilder.build; with HA also
	// high-availability.cluster-id and, in standalone mode,
	// KubernetesStandaloneClusterDescriptor's port).
	haConf := func(name, extra string) string {
		return fmt.Sprintf("high-availability.type: kubernetes\nhigh-availability.storageDir: s3://flink-ha/%[1]s/%[2]s\n"+
			"kubernetes.cluster-id: %[2]s\nkubernetes.namespace: %[1]s\nhigh-availability.cluster-id: %[2]s\n%[3]s", ns, name, extra)
	}
	for _, tc := range []struct {
		name, mode, conf string
		ha               bool
	}{
		{"orders", "standalone", haConf("orders", "high-availability.jobmanager.port: 6123\njobmanager.rpc.address: orders."+ns+"\n"), true},
		{"adhoc", "standalone", fmt.Sprintf("kubernetes.cluster-id: adhoc\nkubernetes.namespace: %s\njobmanager.rpc.address: adhoc.%s\n", ns, ns), false},
		{"events", "native", haConf("events", ""), true},
	} {
		_, errOut, err := kubectlIn(ctx, ns, operatorObjects(tc.name, tc.mode, tc.conf, tc.ha), "create", "-f", "-")
		require.NoError(t, err, "%s: %s", tc.name, errOut)
		assert.NotContains(t, errOut, "Warning", tc.name)
		cm, err := plane.Clientset.CoreV1().ConfigMaps(ns).Get(ctx, "flink-config-"+tc.name, metav1.GetOptions{})
		require.NoError(t, err)
		assert.Equal(t, tc.conf, cm.Data["flink-conf.yaml"], tc.name)
		jm, err := plane.Clientset.AppsV1().Deployments(ns).Get(ctx, tc.name, metav1.GetOptions{})
		require.NoError(t, err)
		c := jm.Spec.Template.Spec.Containers[0]
		assert.Len(t, c.Env, 1, "%s: no POD_IP added", tc.name)
		assert.Equal(t, "flink-ha", jm.Spec.Template.Spec.ServiceAccountName, tc.name)
	}
}

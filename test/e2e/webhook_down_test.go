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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// dexConfig is another product's ConfigMap whose data key is config.yaml:
// dex's own example configuration, with its Kubernetes storage.
const dexConfig = `apiVersion: v1
kind: ConfigMap
metadata:
  name: dex
data:
  config.yaml: |
    issuer: https://dex.example.com/dex
    storage:
      type: kubernetes
      config:
        inCluster: true
    web:
      http: 0.0.0.0:5556
    connectors:
    - type: github
      id: github
      name: GitHub
      config:
        clientID: $GITHUB_CLIENT_ID
        redirectURI: https://dex.example.com/dex/callback
    oauth2:
      skipApprovalScreen: true
    staticClients:
    - id: example-app
      redirectURIs: ['https://app.example.com/callback']
      name: Example App
      secret: ZXhhbXBsZS1hcHAtc2VjcmV0
`

// compliantFlink are Flink objects as the webhook stores them: nothing in
// them needs a change.
const compliantFlink = `apiVersion: v1
kind: ConfigMap
metadata:
  name: flink-config
data:
  flink-conf.yaml: |
    jobmanager.rpc.address: flink-jobmanager
    kubernetes.cluster-id: drill
    high-availability.type: kubernetes
    high-availability.storageDir: s3://flink-ha/drill
    high-availability.cluster-id: drill
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: flink-jobmanager
spec:
  replicas: 1
  selector:
    matchLabels: {app: flink, component: jobmanager}
  template:
    metadata:
      labels: {app: flink, component: jobmanager}
    spec:
      serviceAccountName: flink-ha
      containers:
      - name: jobmanager
        image: flink:1.20
        args: ["jobmanager", "$(POD_IP)"]
        env:
        - name: POD_IP
          valueFrom: {fieldRef: {apiVersion: v1, fieldPath: status.podIP}}
        volumeMounts:
        - {name: flink-config-volume, mountPath: /opt/flink/conf}
      volumes:
      - name: flink-config-volume
        configMap: {name: flink-config}
`

// chosenFlinkDeployment runs under an account of the user's choosing, the
// operator example's.
const chosenFlinkDeployment = `apiVersion: flink.apache.org/v1beta1
kind: FlinkDeployment
metadata: {name: chosen}
spec:
  image: flink:1.20
  flinkVersion: v1_20
  flinkConfiguration: {taskmanager.numberOfTaskSlots: "2"}
  serviceAccount: flink
`

// leaderAnnotation holds the leader record Flink renews in its HA
// ConfigMaps.
const leaderAnnotation = "control-plane.alpha.kubernetes.io/leader"

// TestOutageRefusesOnlyNonCompliantFlinkObjects stops the webhook and shows
// what an outage blocks: leader renewals (PATCH and PUT), unchanged updates
// of compliant Flink objects (under an account of the user's choosing too)
// and other products' objects pass; new or changed Flink objects are
// refused, naming the webhook that could not be asked.
func TestOutageRefusesOnlyNonCompliantFlinkObjects(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns := plane.Namespace(t)
	kubectl := func(stdin string, args ...string) (string, error) {
		out, errOut, err := kubectlIn(ctx, ns, stdin, args...)
		return out + errOut, err
	}
	cms := plane.Clientset.CoreV1().ConfigMaps(ns)

	// Before the outage: a compliant cluster, and the HA ConfigMap its
	// leader renews.
	out, err := kubectl(compliantFlink, "apply", "-f", "-")
	require.NoError(t, err, out)
	require.NotContains(t, out, "Warning:", "the webhook had to change the compliant objects")
	ha := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "drill-cluster-config-map",
		Labels:      map[string]string{"app": "drill", "configmap-type": "high-availability", "type": "flink-native-kubernetes"},
		Annotations: map[string]string{leaderAnnotation: `{"holderIdentity":"a","renewTime":"0"}`}}}
	_, err = cms.Create(ctx, ha, metav1.CreateOptions{})
	require.NoError(t, err)
	out, err = kubectl(chosenFlinkDeployment, "apply", "-f", "-")
	require.NoError(t, err, out)

	server.Stop()
	t.Cleanup(func() {
		var err error
		server, err = plane.ServeWebhook(webhookBin, testPolicy)
		require.NoError(t, err, "restarting the webhook after the outage")
	})

	t.Run("leader renewals by PATCH and by PUT succeed", func(t *testing.T) {
		for i := range 10 {
			patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"{\"holderIdentity\":\"a\",\"renewTime\":\"%d\"}"}}}`, leaderAnnotation, i)
			_, err := cms.Patch(ctx, ha.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
			require.NoError(t, err, "renewal %d by PATCH", i)
			cur, err := cms.Get(ctx, ha.Name, metav1.GetOptions{})
			require.NoError(t, err)
			cur.Annotations[leaderAnnotation] = fmt.Sprintf(`{"holderIdentity":"b","renewTime":"%d"}`, i)
			cur.Data = map[string]string{"counter": fmt.Sprint(i)}
			_, err = cms.Update(ctx, cur, metav1.UpdateOptions{})
			require.NoError(t, err, "renewal %d by PUT", i)
		}
	})

	t.Run("compliant Flink objects re-applied unchanged, scaled or annotated are admitted", func(t *testing.T) {
		out, err := kubectl(compliantFlink, "apply", "--server-side", "--force-conflicts", "-f", "-")
		require.NoError(t, err, out)
		out, err = kubectl("", "annotate", "configmap/flink-config", "deployment/flink-jobmanager", "team=analytics")
		require.NoError(t, err, out)
		out, err = kubectl("", "scale", "deployment/flink-jobmanager", "--replicas=1")
		require.NoError(t, err, out)
		cm, err := cms.Get(ctx, "flink-config", metav1.GetOptions{})
		require.NoError(t, err)
		_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
		require.NoError(t, err, "an unchanged PUT")

		// The account's rights were checked when it was admitted.
		fds := quietClient(t).Resource(webhooksFor[schema.GroupKind{Group: "flink.apache.org", Kind: "FlinkDeployment"}].resource).Namespace(ns)
		fd, err := fds.Get(ctx, "chosen", metav1.GetOptions{})
		require.NoError(t, err)
		_, err = fds.Update(ctx, fd, metav1.UpdateOptions{})
		require.NoError(t, err, "an unchanged PUT of a FlinkDeployment under an account of the user's choosing")
		out, err = kubectl("", "annotate", "flinkdeployment/chosen", "team=analytics")
		require.NoError(t, err, out)
	})

	t.Run("other products' objects are admitted", func(t *testing.T) {
		out, err := kubectl(dexConfig, "apply", "-f", "-")
		require.NoError(t, err, out)
		// The dearest texts for the conditions: the largest the key scan
		// reads, and the largest a ConfigMap holds. Over the API server's
		// CEL cost limit, they would be refused.
		line := "- {name: widget, colour: blue, size: 3, tags: [a, b]}\n"
		for _, size := range []int{48 << 10, 1000 << 10} {
			text := ("items:\n" + strings.Repeat(line, size/len(line)+1))[:size]
			big := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("app-config-%d", size)},
				Data: map[string]string{"config.yaml": text}}
			_, err = cms.Create(ctx, big, metav1.CreateOptions{})
			require.NoError(t, err, "a %d-byte non-Flink config.yaml", size)
			big.Data["config.yaml"] = text[:size-1] + "\n"
			_, err = cms.Update(ctx, big, metav1.UpdateOptions{})
			require.NoError(t, err, "a change to a %d-byte non-Flink config.yaml", size)
		}
		out, err = kubectl(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, component: jobmanager}}
    spec:
      containers: [{name: web, image: flink.registry.example:5000/nginx:1.27}]
`, "apply", "-f", "-")
		require.NoError(t, err, out)
	})

	t.Run("new and changed Flink objects are refused, naming the webhook", func(t *testing.T) {
		for name, tc := range map[string]struct{ manifest, webhook string }{
			"a new compliant ConfigMap":        {strings.Replace(compliantFlink, "name: flink-config\n", "name: flink-config-2\n", 1), "flink-config.webhook.flink-ha"},
			"a ConfigMap without cluster-id":   {strings.Replace(compliantFlink, "    kubernetes.cluster-id: drill\n", "", 1), "flink-config.webhook.flink-ha"},
			"the JobManager with two replicas": {strings.Replace(compliantFlink, "replicas: 1", "replicas: 2", 1), "flink-workloads.webhook.flink-ha"},
			"a new FlinkDeployment":            {strings.Replace(chosenFlinkDeployment, "name: chosen", "name: drill", 1), "flinkdeployments.webhook.flink-ha"},
		} {
			out, err := kubectl(tc.manifest, "apply", "-f", "-")
			require.Error(t, err, "%s: admitted during the outage:\n%s", name, out)
			assert.Contains(t, out, `failed calling webhook "`+tc.webhook+`"`, name)
		}
	})
}

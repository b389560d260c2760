package e2e

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
	"github.com/flink-ha-webhook/flink-ha-webhook/rights"
)

// example reads one of the golden manifests the unit tests use.
func example(t *testing.T, name string) string {
	raw, err := os.ReadFile("../../handler/testdata/" + name + ".in.yaml")
	require.NoError(t, err)
	return string(raw)
}

func podIPEnv(c corev1.Container) bool {
	for _, e := range c.Env {
		if e.Name == "POD_IP" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "status.podIP" {
			return true
		}
	}
	return false
}

func TestStandaloneSessionExampleIsStoredHA(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns := plane.Namespace(t)
	manifest := example(t, "standalone-session")

	_, errOut, err := kubectlIn(ctx, ns, manifest, "apply", "-f", "-")
	require.NoError(t, err)
	assert.Contains(t, errOut, "Warning: spec.template.spec.containers[0].args: added -D jobmanager.rpc.address=$(POD_IP)")

	deployments := plane.Clientset.AppsV1().Deployments(ns)
	jm, err := deployments.Get(ctx, "flink-jobmanager", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "flink-ha", jm.Spec.Template.Spec.ServiceAccountName)
	assert.Equal(t, []string{"jobmanager", "-D", "jobmanager.rpc.address=$(POD_IP)"}, jm.Spec.Template.Spec.Containers[0].Args)
	assert.True(t, podIPEnv(jm.Spec.Template.Spec.Containers[0]))
	tm, err := deployments.Get(ctx, "flink-taskmanager", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "flink-ha", tm.Spec.Template.Spec.ServiceAccountName)
	assert.Equal(t, []string{"taskmanager"}, tm.Spec.Template.Spec.Containers[0].Args)
	cm, err := plane.Clientset.CoreV1().ConfigMaps(ns).Get(ctx, "flink-config", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Contains(t, cm.Data["flink-conf.yaml"], "high-availability.storageDir: s3://flink-ha/"+ns+"/session\n")

	// The controllers make the JobManager pods from the stored template.
	require.Eventually(t, func() bool {
		pods, err := plane.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "component=jobmanager"})
		return err == nil && len(pods.Items) == 2 && pods.Items[0].Spec.ServiceAccountName == "flink-ha"
	}, time.Minute, 200*time.Millisecond)

	// Applying the example again changes no spec (the generation counts
	// spec changes; controllers move resourceVersion with status) and no
	// data.
	before := []int64{jm.Generation, tm.Generation}
	data := cm.Data
	_, _, err = kubectlIn(ctx, ns, manifest, "apply", "-f", "-")
	require.NoError(t, err)
	jm, _ = deployments.Get(ctx, "flink-jobmanager", metav1.GetOptions{})
	tm, _ = deployments.Get(ctx, "flink-taskmanager", metav1.GetOptions{})
	cm, _ = plane.Clientset.CoreV1().ConfigMaps(ns).Get(ctx, "flink-config", metav1.GetOptions{})
	assert.Equal(t, before, []int64{jm.Generation, tm.Generation}, "a second apply must not change a spec")
	assert.Equal(t, data, cm.Data)
}

// TestStandaloneApplicationExampleIsStoredHA applies the docs' application
// cluster on Flink 2.1: the JobManager advertises its pod IP with -D, which
// every version reads, so the job class stays an option (Flink 2 has no
// --host, which would end option parsing).
func TestStandaloneApplicationExampleIsStoredHA(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns := plane.Namespace(t)

	_, _, err := kubectlIn(ctx, ns, example(t, "standalone-application"), "apply", "--server-side", "-f", "-")
	require.NoError(t, err)
	job, err := plane.Clientset.BatchV1().Jobs(ns).Get(ctx, "flink-jobmanager", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"standalone-job", "-D", "jobmanager.rpc.address=$(POD_IP)", "--job-classname", "org.apache.flink.examples.WordCount",
		"--output", "s3://out/wc"}, job.Spec.Template.Spec.Containers[0].Args)
	assert.True(t, podIPEnv(job.Spec.Template.Spec.Containers[0]))
	cm, err := plane.Clientset.CoreV1().ConfigMaps(ns).Get(ctx, "flink-config", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Contains(t, cm.Data["config.yaml"], "  cluster-id: wordcount\nhigh-availability.type: kubernetes\n",
		"with no high-availability block in config.yaml the keys go in flat, after the file's last key")
	require.Eventually(t, func() bool {
		pods, err := plane.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "component=jobmanager"})
		return err == nil && len(pods.Items) == 2
	}, time.Minute, 200*time.Millisecond, "the job controller runs the JobManager and its standby")
}

// TestTheOperatorsOwnConfigMapApplies installs the Flink Kubernetes
// Operator's flink-operator-config, as its Helm chart renders it, with the
// webhook in place: it is the operator's defaults, not a cluster, so it is
// stored as written, with nothing said.
func TestTheOperatorsOwnConfigMapApplies(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := plane.Namespace(t)
	manifest := example(t, "operator-config")

	out, errOut, err := kubectlIn(ctx, ns, manifest, "apply", "-f", "-")
	require.NoError(t, err, errOut)
	assert.Contains(t, out, "configmap/flink-operator-config created")
	assert.NotContains(t, errOut, "Warning")
	var want corev1.ConfigMap
	require.NoError(t, yaml.Unmarshal([]byte(manifest), &want))
	got, err := plane.Clientset.CoreV1().ConfigMaps(ns).Get(ctx, "flink-operator-config", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, want.Data, got.Data)

	// An upgrade of the chart changes the defaults: also admitted as written.
	upgraded := strings.Replace(manifest, "kubernetes.operator.reconcile.interval: 15 s", "kubernetes.operator.reconcile.interval: 30 s", 1)
	_, errOut, err = kubectlIn(ctx, ns, upgraded, "apply", "-f", "-")
	require.NoError(t, err, errOut)
	assert.NotContains(t, errOut, "Warning")
	got, err = plane.Clientset.CoreV1().ConfigMaps(ns).Get(ctx, "flink-operator-config", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Contains(t, got.Data["flink-conf.yaml"], "kubernetes.operator.reconcile.interval: 30 s\n")
	assert.NotContains(t, got.Data["flink-conf.yaml"], "high-availability")
}

func TestStandbyJobManagersWithoutHAAreDenied(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := plane.Namespace(t)
	_, errOut, err := kubectlIn(ctx, ns, example(t, "opted-out"), "apply", "-f", "-")
	require.Error(t, err)
	assert.Contains(t, errOut, `spec.replicas: Invalid value: 2: more than one JobManager needs HA for leader election`)
}

var flinkDeployments = schema.GroupVersionResource{Group: "flink.apache.org", Version: "v1beta1", Resource: "flinkdeployments"}

func TestFlinkDeployments(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := plane.Namespace(t)
	client, err := dynamic.NewForConfig(plane.Config)
	require.NoError(t, err)

	_, _, err = kubectlIn(ctx, ns, example(t, "flinkdeployment-nested"), "apply", "-f", "-")
	require.NoError(t, err)
	fd, err := client.Resource(flinkDeployments).Namespace(ns).Get(ctx, "nested", metav1.GetOptions{})
	require.NoError(t, err)
	conf, _, _ := unstructured.NestedMap(fd.Object, "spec", "flinkConfiguration")
	assert.Equal(t, map[string]any{
		"taskmanager":       map[string]any{"numberOfTaskSlots": int64(4)},
		"high-availability": map[string]any{"storageDir": "s3://team-bucket/ha/nested", "type": "kubernetes"},
	}, conf, "the key goes into the nested block the user wrote, and the user's storageDir stays")
	sa, _, _ := unstructured.NestedString(fd.Object, "spec", "serviceAccount")
	assert.Equal(t, "flink-ha", sa)

	// That FlinkDeployment runs under the account flink: one the
	// authorizer allows what HA needs, or the webhook would not make it HA
	// (TestFlinkDeploymentHAWaitsForItsAccount) and judge it so.
	bindRole(ctx, t, ns, "flink", rights.Rules(rights.Native, flinkconf.Exactly(flinkconf.V1_20)))
	require.Eventually(t, func() bool {
		return allowed(ctx, t, "system:serviceaccount:"+ns+":flink", ns, "patch", "configmaps")
	}, 20*time.Second, 100*time.Millisecond, "the authorizer should allow the account its Role")
	_, errOut, err := kubectlIn(ctx, ns, example(t, "flinkdeployment-denied"), "apply", "-f", "-")
	require.Error(t, err)
	for _, want := range []string{
		`spec.flinkConfiguration[kubernetes.cluster-id]: Forbidden: the operator sets kubernetes.cluster-id from the FlinkDeployment`,
		`metadata.name: Invalid value: "a-flink-deployment-whose-name-is-longer-than-45": is the cluster-id of the Flink cluster`,
		`spec.flinkConfiguration[high-availability.storageDir]: Invalid value: "/local/ha"`,
	} {
		assert.Contains(t, errOut, want)
	}
	_, err = client.Resource(flinkDeployments).Namespace(ns).Get(ctx, "a-flink-deployment-whose-name-is-longer-than-45", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err))

	// A FlinkSessionJob, and every other kind, never reaches the webhook.
	out, errOut, err := kubectlIn(ctx, ns, strings.Split(example(t, "left-alone"), "---")[2], "apply", "-f", "-")
	require.NoError(t, err)
	assert.Contains(t, out, "configmap/app-config created")
	assert.NotContains(t, errOut, "Warning")
}

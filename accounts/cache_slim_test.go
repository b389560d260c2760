package accounts

import (
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// appliedFlinkDeployment is a FlinkDeployment as the API server sends it to the
// cache: the operator's example, as the webhook completed it and kubectl
// applied it.
func appliedFlinkDeployment(account string) *unstructured.Unstructured {
	spec := map[string]any{
		"image": "flink:1.20", "flinkVersion": "v1_20",
		"flinkConfiguration": map[string]any{"taskmanager.numberOfTaskSlots": "2", "high-availability.type": "kubernetes"},
		"jobManager":         map[string]any{"resource": map[string]any{"memory": "2048m", "cpu": int64(1)}},
	}
	if account != "" {
		spec["serviceAccount"] = account
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "flink.apache.org/v1beta1", "kind": "FlinkDeployment",
		"metadata": map[string]any{
			"name": "basic", "namespace": "team", "uid": "u1", "resourceVersion": "42", "generation": int64(3),
			"labels": map[string]any{"app": "basic"},
			"annotations": map[string]any{
				"flink-ha-webhook/cluster":                         "FlinkDeployment/basic",
				"flink-ha-webhook/cluster-id":                      "basic",
				"kubectl.kubernetes.io/last-applied-configuration": `{"apiVersion":"flink.apache.org/v1beta1","kind":"FlinkDeployment"}`,
			},
			"managedFields": []any{map[string]any{"manager": "kubectl"}},
		},
		"spec":   spec,
		"status": map[string]any{"lifecycleState": "STABLE"},
	}}
}

// jobManagerDeployment is a JobManager Deployment as the API server sends
// it to the cache. Native, it is what Flink's native client
// (kubernetes-session.sh, run-application) makes: Flink's labels on the
// Deployment and its pods, the main container named as Flink names it.
// Standalone, it is the one Flink's docs show.
func jobManagerDeployment(native bool) *appsv1.Deployment {
	labels := map[string]string{"app": "orders", "component": "jobmanager"}
	container := corev1.Container{Name: "jobmanager", Image: "flink:1.20", Args: []string{"jobmanager"},
		Ports:        []corev1.ContainerPort{{Name: "rpc", ContainerPort: 6123}, {Name: "blob-server", ContainerPort: 6124}, {Name: "webui", ContainerPort: 8081}},
		Env:          []corev1.EnvVar{{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}}},
		VolumeMounts: []corev1.VolumeMount{{Name: "flink-config-volume", MountPath: "/opt/flink/conf"}}}
	if native {
		labels["type"] = "flink-native-kubernetes"
		container.Name = "flink-main-container"
		container.Command = []string{"/docker-entrypoint.sh"}
		container.Args = []string{"bash", "-c", "kubernetes-jobmanager.sh kubernetes-session"}
	}
	container.Resources = corev1.ResourceRequirements{Limits: corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1600Mi")}}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "orders", Namespace: "team", UID: "d1", ResourceVersion: "17", Generation: 1,
			Labels:        labels,
			Annotations:   map[string]string{"deployment.kubernetes.io/revision": "1", "flink-ha-webhook/cluster-id": "orders"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "fabric8-kubernetes-client"}}},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{ServiceAccountName: "flink-ha", Containers: []corev1.Container{container},
					Volumes: []corev1.Volume{{Name: "flink-config-volume", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
						LocalObjectReference: corev1.LocalObjectReference{Name: "flink-config-orders"}}}}}},
			},
		},
		Status: appsv1.DeploymentStatus{Replicas: 1, ReadyReplicas: 1, AvailableReplicas: 1},
	}
}

// workloadsTransform is the transform CacheOptions gives the caches of
// Deployments, StatefulSets and Jobs.
func workloadsTransform(t testing.TB) func(any) (any, error) {
	t.Helper()
	var transform func(any) (any, error)
	for obj, opts := range CacheOptions() {
		switch obj.(type) {
		case *appsv1.Deployment, *appsv1.StatefulSet, *batchv1.Job:
			require.NotNil(t, opts.Transform)
			transform = opts.Transform
		}
	}
	require.NotNil(t, transform)
	return transform
}

// cachedJobManager is jobManagerDeployment under account, as the cache
// keeps it (cached).
func cachedJobManager(t testing.TB, account string, native bool) *appsv1.Deployment {
	t.Helper()
	d := jobManagerDeployment(native)
	d.Spec.Template.Spec.ServiceAccountName = account
	return cached(t, d)
}

// cached is a workload as the cache keeps it, without the version and uid
// a fake client sets itself.
func cached[W client.Object](t testing.TB, w W) W {
	t.Helper()
	slim, err := workloadsTransform(t)(w)
	require.NoError(t, err)
	w = slim.(W)
	w.SetResourceVersion("")
	w.SetUID("")
	return w
}

// TestCachedMetadataKeepsOnlyWhatIsRead: objects watched as metadata keep
// what the safety net, the collision check and the namespace policies
// read of them; the FlinkDeployment and workload cases are
// TestCachedObjectsKeepOnlyWhatIsRead's.
func TestCachedMetadataKeepsOnlyWhatIsRead(t *testing.T) {
	t.Parallel()
	owner := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "basic", UID: "d1"}
	configMap := func(annotations map[string]string) *metav1.PartialObjectMetadata {
		return &metav1.PartialObjectMetadata{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: metav1.ObjectMeta{Name: "basic-cluster-config-map", Namespace: "team", UID: "c1", ResourceVersion: "9",
				GenerateName: "basic-", Finalizers: []string{"x"}, CreationTimestamp: metav1.Unix(1, 0),
				Labels:          map[string]string{"app": "basic", "configmap-type": "high-availability", "type": "flink-native-kubernetes"},
				OwnerReferences: []metav1.OwnerReference{owner}, Annotations: annotations,
				ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "flink"}}},
		}
	}
	slimConfigMap := func(annotations map[string]string) *metav1.PartialObjectMetadata {
		return &metav1.PartialObjectMetadata{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: metav1.ObjectMeta{Name: "basic-cluster-config-map", Namespace: "team", UID: "c1", ResourceVersion: "9",
				Labels:          map[string]string{"app": "basic", "configmap-type": "high-availability", "type": "flink-native-kubernetes"},
				OwnerReferences: []metav1.OwnerReference{owner}, Annotations: annotations},
		}
	}
	cases := map[string]struct {
		in, want any
	}{
		"an HA ConfigMap's metadata keeps its labels, owners and opt-out, not Flink's leader record": {
			configMap(map[string]string{"control-plane.alpha.kubernetes.io/leader": `{"holderIdentity":"x"}`, "flink-ha-webhook/ha": "off"}),
			slimConfigMap(map[string]string{"flink-ha-webhook/ha": "off"}),
		},
		"a ConfigMap's metadata loses kubectl's copy of its data": {
			configMap(map[string]string{"kubectl.kubernetes.io/last-applied-configuration": `{"data":{"flink-conf.yaml":"..."}}`}),
			slimConfigMap(nil),
		},
		"a namespace keeps its labels, which select namespace policies": {
			&metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
				ObjectMeta: metav1.ObjectMeta{Name: "team", UID: "n1", ResourceVersion: "1", Labels: map[string]string{"flink": "ha"},
					Annotations: map[string]string{"owner": "data-team"}}},
			&metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
				ObjectMeta: metav1.ObjectMeta{Name: "team", UID: "n1", ResourceVersion: "1", Labels: map[string]string{"flink": "ha"}}},
		},
		"an object of another custom resource only loses its managed fields": {
			&unstructured.Unstructured{Object: map[string]any{"apiVersion": "flink.apache.org/v1beta1", "kind": "FlinkSessionJob",
				"metadata": map[string]any{"name": "job", "managedFields": []any{map[string]any{"manager": "x"}}}, "spec": map[string]any{"job": "x"}}},
			&unstructured.Unstructured{Object: map[string]any{"apiVersion": "flink.apache.org/v1beta1", "kind": "FlinkSessionJob",
				"metadata": map[string]any{"name": "job"}, "spec": map[string]any{"job": "x"}}},
		},
	}
	transform := Transform()
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := transform(c.in)
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
		})
	}
}

// retained is the heap that n results of transform(in) hold.
func retained(transform func(any) (any, error), in func() any, n int) float64 {
	kept := make([]any, n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	// Decoded, transformed, the decoded object dropped: as an informer
	// does. A transform may keep what it is given.
	inputs := make([]any, n)
	for i := range inputs {
		inputs[i] = in()
	}
	for i := range kept {
		kept[i], _ = transform(inputs[i])
	}
	inputs = nil
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(kept)
	return (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / float64(n)
}

// BenchmarkCachedObject reports the memory each object holds in the cache
// once transformed (retained-B/object), beside what transforming
// allocates: a FlinkDeployment (one whose JobManager's key names an
// account of its own keeps that key), and the metadata of a flink-conf.yaml
// ConfigMap applied with kubectl, slimmed and with its managed fields
// stripped only (as before slimming metadata).
func BenchmarkCachedObject(b *testing.B) {
	conf := strings.Repeat("taskmanager.numberOfTaskSlots: 2\n", 60)
	configMap := func() any {
		return &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: metav1.ObjectMeta{Name: "flink-config", Namespace: "team", UID: "c1", ResourceVersion: "9",
				Labels: map[string]string{"app": "flink"},
				Annotations: map[string]string{
					"flink-ha-webhook/cluster":                         "ConfigMap/flink-config",
					"flink-ha-webhook/cluster-id":                      "flink",
					"kubectl.kubernetes.io/last-applied-configuration": `{"apiVersion":"v1","data":{"flink-conf.yaml":"` + conf + `"}}`,
				},
				ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}}}
	}
	workloads := workloadsTransform(b)
	standaloneFlinkDeployment := func() any {
		u := appliedFlinkDeployment("flink")
		u.Object["spec"].(map[string]any)["mode"] = "standalone"
		return u
	}
	ownJobManagerAccount := func() any {
		u := appliedFlinkDeployment("flink")
		u.Object["spec"].(map[string]any)["flinkConfiguration"].(map[string]any)["kubernetes.jobmanager.service-account"] = "leader"
		return u
	}
	for name, c := range map[string]struct {
		transform func(any) (any, error)
		in        func() any
	}{
		"FlinkDeployment":                         {Transform(), func() any { return appliedFlinkDeployment("flink") }},
		"FlinkDeployment, standalone":             {Transform(), standaloneFlinkDeployment},
		"FlinkDeployment, JobManager key":         {Transform(), ownJobManagerAccount},
		"Deployment, standalone JobManager":       {workloads, func() any { return jobManagerDeployment(false) }},
		"Deployment, native JobManager":           {workloads, func() any { return jobManagerDeployment(true) }},
		"ConfigMap metadata":                      {Transform(), configMap},
		"ConfigMap metadata, managed fields only": {cache.TransformStripManagedFields(), configMap},
	} {
		b.Run(name, func(b *testing.B) {
			kept := retained(c.transform, c.in, 1000)
			in := c.in()
			b.ReportAllocs()
			for b.Loop() {
				_, _ = c.transform(in)
			}
			b.ReportMetric(kept, "retained-B/object")
		})
	}
}

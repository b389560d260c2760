package validate

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
)

func testPolicy(t *testing.T, extra string) *policy.Policy {
	p, err := policy.Parse([]byte("storageDir: s3://ha/{namespace}/{clusterId}\n" + extra))
	require.NoError(t, err)
	return p
}

func jobManager(annotations map[string]string, env []corev1.EnvVar, args ...string) (*metav1.ObjectMeta, *corev1.PodTemplateSpec) {
	return &metav1.ObjectMeta{Name: "jm", Namespace: "team", Annotations: annotations},
		&corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"component": "jobmanager"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "jobmanager", Image: "flink:1.20", Args: args, Env: env}}},
		}
}

func props(text string) []corev1.EnvVar {
	return []corev1.EnvVar{{Name: "FLINK_PROPERTIES", Value: text}}
}

func TestWorkload(t *testing.T) {
	t.Parallel()
	replicas := field.NewPath("spec", "replicas")
	envPath := field.NewPath("spec", "template", "spec", "containers").Index(0).Child("env").Key("FLINK_PROPERTIES")
	off := map[string]string{policy.AnnotationHA: "off"}
	cases := map[string]struct {
		annotations map[string]string
		env         []corev1.EnvVar
		args        []string
		replicas    int32
		policy      string
		want        field.ErrorList
	}{
		"a JobManager whose configuration is mounted has nothing to check": {
			args: []string{"jobmanager"}, replicas: 1,
		},
		"standbys under a policy that makes every cluster HA are fine": {
			args: []string{"jobmanager"}, replicas: 2,
		},
		"standbys of an opted-out cluster are denied": {
			annotations: off, args: []string{"jobmanager"}, replicas: 2,
			want: field.ErrorList{field.Invalid(replicas, int32(2), "more than one JobManager needs HA for leader election: turn HA on or run 1 JobManager")},
		},
		"standbys where the container turns HA off are denied, and so is turning it off": {
			args: []string{"jobmanager", "-Dhigh-availability.type=NONE"}, replicas: 2,
			want: field.ErrorList{
				field.Required(field.NewPath("spec", "template", "spec", "containers").Index(0).Child("args").Key("high-availability.type"),
					"this cluster's policy requires HA: set high-availability.type: kubernetes"),
				field.Required(field.NewPath("spec", "template", "spec", "containers").Index(0).Child("args").Key("high-availability.storageDir"),
					"Kubernetes HA keeps job graphs and checkpoint pointers there: set high-availability.storageDir to a URI every JobManager can reach, such as s3://<bucket>/flink-ha/<cluster-id>"),
				field.Required(field.NewPath("spec", "template", "spec", "containers").Index(0).Child("args").Key("kubernetes.cluster-id"),
					"Kubernetes HA names its ConfigMaps after it: set kubernetes.cluster-id to a name unique in the namespace, such as the JobManager Deployment's"),
				field.Invalid(replicas, int32(2), "more than one JobManager needs HA for leader election: turn HA on or run 1 JobManager"),
			},
		},
		"a complete FLINK_PROPERTIES configuration passes": {
			env:  props("kubernetes.cluster-id: jm\nhigh-availability.type: kubernetes\nhigh-availability.storageDir: s3://b/ha\n"),
			args: []string{"jobmanager"}, replicas: 2,
		},
		"FLINK_PROPERTIES without a cluster-id is denied at its field": {
			env:  props("high-availability.type: kubernetes\nhigh-availability.storageDir: s3://b/ha\n"),
			args: []string{"jobmanager"}, replicas: 1,
			want: field.ErrorList{field.Required(envPath.Key("kubernetes.cluster-id"),
				"Kubernetes HA names its ConfigMaps after it: set kubernetes.cluster-id to a name unique in the namespace, such as the JobManager Deployment's")},
		},
		"opting out where the policy forbids it is denied": {
			annotations: off, args: []string{"jobmanager"}, replicas: 1, policy: "allowOptOut: false\n",
			want: field.ErrorList{field.Forbidden(field.NewPath("metadata", "annotations").Key(policy.AnnotationHA), policy.ErrOptOutForbidden.Error())},
		},
		"an exempt namespace is not checked": {
			annotations: off, args: []string{"jobmanager"}, replicas: 3, policy: "exemptNamespaces: [team]\n",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			meta, tpl := jobManager(tc.annotations, tc.env, tc.args...)
			got, _ := Workload(meta, tpl, tc.replicas, replicas, testPolicy(t, tc.policy))
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestWorkloadIgnoresWhatIsNotFlink(t *testing.T) {
	t.Parallel()
	meta := &metav1.ObjectMeta{Name: "web", Namespace: "team"}
	tpl := &corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}}}
	errs, warnings := Workload(meta, tpl, 5, field.NewPath("spec", "replicas"), testPolicy(t, ""))
	assert.Empty(t, errs)
	assert.Empty(t, warnings)
}

func TestFlinkDeployment(t *testing.T) {
	t.Parallel()
	fc := field.NewPath("spec", "flinkConfiguration")
	fd := func(name string, spec map[string]any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "flink.apache.org/v1beta1", "kind": "FlinkDeployment",
			"metadata": map[string]any{"name": name, "namespace": "team"}, "spec": spec,
		}}
	}
	ha := map[string]any{"high-availability.type": "kubernetes", "high-availability.storageDir": "s3://b/ha"}
	cases := map[string]struct {
		obj  *unstructured.Unstructured
		want field.ErrorList
	}{
		"a complete HA deployment passes": {obj: fd("orders", map[string]any{"flinkConfiguration": ha})},
		"a nested complete configuration passes": {obj: fd("orders", map[string]any{"flinkConfiguration": map[string]any{
			"high-availability": map[string]any{"type": "kubernetes", "storageDir": "s3://b/ha"}}})},
		"Flink 1.15 with the factory class beside its storageDir passes": {obj: fd("orders", map[string]any{"flinkVersion": "v1_15",
			"flinkConfiguration": map[string]any{"high-availability": "org.apache.flink.kubernetes.highavailability.KubernetesHaServicesFactory", "high-availability.storageDir": "s3://b/ha"}})},
		"the same pair for Flink 2 cannot be written as nested YAML": {obj: fd("orders", map[string]any{"flinkVersion": "v2_0",
			"flinkConfiguration": map[string]any{"high-availability": "kubernetes", "high-availability.storageDir": "s3://b/ha"}}),
			want: field.ErrorList{field.Invalid(fc.Key("high-availability"), "kubernetes",
				"high-availability at spec.flinkConfiguration key high-availability is a value but also the prefix of high-availability.storageDir at spec.flinkConfiguration key high-availability.storageDir, which nested YAML cannot hold; rename high-availability to high-availability.type")}},
		"keys the operator sets are refused": {obj: fd("orders", map[string]any{"flinkConfiguration": map[string]any{
			"high-availability.type": "kubernetes", "high-availability.storageDir": "s3://b/ha", "kubernetes.namespace": "elsewhere"}}),
			want: field.ErrorList{field.Forbidden(fc.Key("kubernetes.namespace"), "the operator sets kubernetes.namespace from the FlinkDeployment and refuses it here: remove it")}},
		"a name that cannot be a cluster-id": {obj: fd("orders.v2", map[string]any{"flinkConfiguration": ha}),
			want: field.ErrorList{field.Invalid(field.NewPath("metadata", "name"), "orders.v2",
				`is the cluster-id of the Flink cluster: "orders.v2" is not a valid cluster-id: use lower-case letters, digits and '-', starting with a letter and ending with a letter or digit`)}},
		"last-state upgrades without HA": {obj: fd("orders", map[string]any{
			"flinkConfiguration": map[string]any{"high-availability.type": "NONE"}, "job": map[string]any{"upgradeMode": "last-state"}}),
			want: field.ErrorList{
				field.Required(fc.Key("high-availability.type"), "this cluster's policy requires HA: set high-availability.type: kubernetes"),
				field.Required(fc.Key("high-availability.storageDir"), "Kubernetes HA keeps job graphs and checkpoint pointers there: set high-availability.storageDir to a URI every JobManager can reach, such as s3://<bucket>/flink-ha/<cluster-id>"),
				field.Invalid(field.NewPath("spec", "job", "upgradeMode"), "last-state", "last-state upgrades restore from the HA metadata: turn HA on or use savepoint"),
			}},
		"flinkConfiguration that is not an object": {obj: fd("orders", map[string]any{"flinkConfiguration": "high-availability: kubernetes"}),
			want: field.ErrorList{field.Invalid(fc, field.OmitValueType{}, "must be an object of Flink configuration keys")}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, _ := FlinkDeployment(tc.obj, testPolicy(t, ""))
			assert.Equal(t, tc.want, got)
		})
	}
}

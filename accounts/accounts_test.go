package accounts

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
)

func TestUsesAccount(t *testing.T) {
	t.Parallel()
	p, err := policy.Parse([]byte("exemptNamespaces: [legacy]\n"))
	require.NoError(t, err)
	r := &Reconciler{Policy: p}
	under := func(sa string) corev1.PodTemplateSpec {
		return corev1.PodTemplateSpec{Spec: corev1.PodSpec{ServiceAccountName: sa}}
	}
	meta := func(ns string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: "x", Namespace: ns} }
	fd := func(sa string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": "x", "namespace": "team"}, "spec": map[string]any{"serviceAccount": sa}}}
	}
	cases := map[string]struct {
		obj  client.Object
		want bool
	}{
		"a Deployment under the policy's account":  {&appsv1.Deployment{ObjectMeta: meta("team"), Spec: appsv1.DeploymentSpec{Template: under("flink-ha")}}, true},
		"a StatefulSet under the policy's account": {&appsv1.StatefulSet{ObjectMeta: meta("team"), Spec: appsv1.StatefulSetSpec{Template: under("flink-ha")}}, true},
		"a Job under the policy's account":         {&batchv1.Job{ObjectMeta: meta("team"), Spec: batchv1.JobSpec{Template: under("flink-ha")}}, true},
		"a FlinkDeployment under it":               {fd("flink-ha"), true},
		"a Deployment under another account":       {&appsv1.Deployment{ObjectMeta: meta("team"), Spec: appsv1.DeploymentSpec{Template: under("web")}}, false},
		"a FlinkDeployment under another":          {fd("flink"), false},
		"an exempt namespace":                      {&appsv1.Deployment{ObjectMeta: meta("legacy"), Spec: appsv1.DeploymentSpec{Template: under("flink-ha")}}, false},
	}
	for name, tc := range cases {
		assert.Equal(t, tc.want, r.usesAccount(context.Background(), tc.obj), name)
	}
}

// TestCachedWorkloadsKeepOnlyWhatIsRead: the transform drops all but the
// name and the pod account, so watching every Deployment stays cheap.
func TestCachedWorkloadsKeepOnlyWhatIsRead(t *testing.T) {
	t.Parallel()
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "jm", Namespace: "team", UID: "u", ResourceVersion: "7",
			Labels: map[string]string{"a": "b"}, Annotations: map[string]string{"big": "x"}},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{ServiceAccountName: "flink-ha",
			Containers: []corev1.Container{{Name: "jobmanager", Image: "flink:1.20", Args: []string{"jobmanager"}}}}}},
	}
	var transform func(any) (any, error)
	for obj, opts := range CacheOptions() {
		if _, ok := obj.(*appsv1.Deployment); ok {
			transform = opts.Transform
		}
	}
	require.NotNil(t, transform)
	got, err := transform(d)
	require.NoError(t, err)
	assert.Equal(t, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "jm", Namespace: "team", UID: "u", ResourceVersion: "7"},
		Spec:       appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{ServiceAccountName: "flink-ha"}}},
	}, got)
}

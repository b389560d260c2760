package validate

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
	"github.com/flink-ha-webhook/flink-ha-webhook/rights"
)

// TestAccountsCarryModeAndVersion: the account to check knows the mode
// and, where the object says it, the Flink release line, so the check asks
// for what that cluster needs.
func TestAccountsCarryModeAndVersion(t *testing.T) {
	t.Parallel()
	p, err := policy.Parse([]byte("{}\n"))
	require.NoError(t, err)
	jm := func(image string, native bool) (Account, bool) {
		labels := map[string]string{"component": "jobmanager"}
		if native {
			labels["type"] = "flink-native-kubernetes"
		}
		tpl := &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{ServiceAccountName: "mine",
			Containers: []corev1.Container{{Name: "jobmanager", Image: image, Args: []string{"jobmanager"}}}}}
		return WorkloadAccount(&metav1.ObjectMeta{Namespace: "team", Name: "jm"}, tpl, p)
	}
	fd := func(version string) (Account, bool) {
		spec := map[string]any{"serviceAccount": "mine"}
		if version != "" {
			spec["flinkVersion"] = version
		}
		u := &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"namespace": "team", "name": "orders"}, "spec": spec}}
		return FlinkDeploymentAccount(u, p)
	}
	workload := field.NewPath("spec", "template", "spec", "serviceAccountName")
	cases := map[string]struct {
		got       func() (Account, bool)
		want      Account
		wantNeeds []rights.Access
	}{
		"a 1.17 JobManager's account renews by PUT": {
			got:       func() (Account, bool) { return jm("flink:1.17.2-java11", false) },
			want:      Account{Namespace: "team", Name: "mine", Path: workload, Flink: flinkconf.Exactly(flinkconf.V1_17)},
			wantNeeds: rights.Needs(rights.Standalone, flinkconf.Exactly(flinkconf.V1_17)),
		},
		"a JobManager of an image without a version needs what any release needs": {
			got:       func() (Account, bool) { return jm("registry.example/team/jobs:42", false) },
			want:      Account{Namespace: "team", Name: "mine", Path: workload},
			wantNeeds: rights.Needs(rights.Standalone, flinkconf.Supported),
		},
		"a native JobManager also runs pods": {
			got:       func() (Account, bool) { return jm("flink:1.20", true) },
			want:      Account{Namespace: "team", Name: "mine", Path: workload, Native: true, Flink: flinkconf.Exactly(flinkconf.V1_20)},
			wantNeeds: rights.Needs(rights.Native, flinkconf.Exactly(flinkconf.V1_20)),
		},
		"a FlinkDeployment of v1_16 runs native without patch": {
			got:       func() (Account, bool) { return fd("v1_16") },
			want:      Account{Namespace: "team", Name: "mine", Path: field.NewPath("spec", "serviceAccount"), Native: true, Flink: flinkconf.Exactly(flinkconf.V1_16)},
			wantNeeds: rights.Needs(rights.Native, flinkconf.Exactly(flinkconf.V1_16)),
		},
		"a FlinkDeployment without flinkVersion needs what any release needs": {
			got:       func() (Account, bool) { return fd("") },
			want:      Account{Namespace: "team", Name: "mine", Path: field.NewPath("spec", "serviceAccount"), Native: true},
			wantNeeds: rights.Needs(rights.Native, flinkconf.Supported),
		},
	}
	for name, tc := range cases {
		got, ok := tc.got()
		require.True(t, ok, name)
		assert.Equal(t, tc.want, got, name)
		assert.Equal(t, tc.wantNeeds, got.Needs(), name)
	}
}

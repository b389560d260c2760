package validate

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

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
	jmOn := func(image string, native, hostNetwork bool) (Account, bool) {
		labels := map[string]string{"component": "jobmanager"}
		if native {
			labels["type"] = "flink-native-kubernetes"
		}
		tpl := &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{ServiceAccountName: "mine", HostNetwork: hostNetwork,
			Containers: []corev1.Container{{Name: "jobmanager", Image: image, Args: []string{"jobmanager"}}}}}
		return WorkloadAccount(&metav1.ObjectMeta{Namespace: "team", Name: "jm"}, tpl, p)
	}
	jm := func(image string, native bool) (Account, bool) { return jmOn(image, native, false) }
	fdWith := func(version string, extra map[string]any) (Account, bool) {
		spec := map[string]any{"serviceAccount": "mine"}
		if version != "" {
			spec["flinkVersion"] = version
		}
		for k, v := range extra {
			spec[k] = v
		}
		u := &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"namespace": "team", "name": "orders"}, "spec": spec}}
		as := FlinkDeploymentAccounts(u, p)
		if len(as) != 1 {
			return Account{}, false
		}
		return as[0], true
	}
	fd := func(version string) (Account, bool) { return fdWith(version, nil) }
	onHost := map[string]any{"flinkConfiguration": map[string]any{"kubernetes.hostnetwork.enabled": " True"}}
	hostNetworkNeeds := func(r flinkconf.Range) []rights.Access {
		return append(rights.Needs(rights.Native, r), rights.HostNetworkNeeds()...)
	}
	tm := func(image string) (Account, bool) {
		tpl := &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"component": "taskmanager"}}, Spec: corev1.PodSpec{ServiceAccountName: "mine",
			Containers: []corev1.Container{{Name: "taskmanager", Image: image, Args: []string{"taskmanager"}}}}}
		return WorkloadAccount(&metav1.ObjectMeta{Namespace: "team", Name: "tm"}, tpl, p)
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
		"a TaskManager's account only retrieves leaders": {
			got:       func() (Account, bool) { return tm("flink:1.18") },
			want:      Account{Namespace: "team", Name: "mine", Path: workload, TaskManager: true, Flink: flinkconf.Exactly(flinkconf.V1_18)},
			wantNeeds: []rights.Access{{Resource: "configmaps", Verb: "list"}, {Resource: "configmaps", Verb: "watch"}},
		},
		"a FlinkDeployment of v1_16 runs native without patch": {
			got:       func() (Account, bool) { return fd("v1_16") },
			want:      Account{Namespace: "team", Name: "mine", Path: field.NewPath("spec", "serviceAccount"), Native: true, Flink: flinkconf.Exactly(flinkconf.V1_16)},
			wantNeeds: rights.Needs(rights.Native, flinkconf.Exactly(flinkconf.V1_16)),
		},
		"a native JobManager on the host network also updates its Service": {
			got:       func() (Account, bool) { return jmOn("flink:1.20", true, true) },
			want:      Account{Namespace: "team", Name: "mine", Path: workload, Native: true, HostNetwork: true, Flink: flinkconf.Exactly(flinkconf.V1_20)},
			wantNeeds: hostNetworkNeeds(flinkconf.Exactly(flinkconf.V1_20)),
		},
		"a standalone JobManager on the host network runs no resource manager and needs no Service": {
			got:       func() (Account, bool) { return jmOn("flink:1.20", false, true) },
			want:      Account{Namespace: "team", Name: "mine", Path: workload, Flink: flinkconf.Exactly(flinkconf.V1_20)},
			wantNeeds: rights.Needs(rights.Standalone, flinkconf.Exactly(flinkconf.V1_20)),
		},
		"a native FlinkDeployment with kubernetes.hostnetwork.enabled also updates its Service": {
			got: func() (Account, bool) { return fdWith("v1_19", onHost) },
			want: Account{Namespace: "team", Name: "mine", Path: field.NewPath("spec", "serviceAccount"), Native: true, HostNetwork: true,
				Flink: flinkconf.Exactly(flinkconf.V1_19)},
			wantNeeds: hostNetworkNeeds(flinkconf.Exactly(flinkconf.V1_19)),
		},
		"a standalone FlinkDeployment on the host network needs no Service": {
			got: func() (Account, bool) {
				return fdWith("v1_19", map[string]any{"mode": "standalone", "flinkConfiguration": onHost["flinkConfiguration"]})
			},
			want:      Account{Namespace: "team", Name: "mine", Path: field.NewPath("spec", "serviceAccount"), Flink: flinkconf.Exactly(flinkconf.V1_19)},
			wantNeeds: rights.Needs(rights.Standalone, flinkconf.Exactly(flinkconf.V1_19)),
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

// TestFlinkDeploymentAccountsFollowTheRoles: each role of a
// FlinkDeployment's cluster runs under its own key of flinkConfiguration
// when set, else under spec.serviceAccount (the operator writes it into
// kubernetes.service-account, which Flink reads after the role's key).
// The accounts to check are those of the user's choosing, each with its
// role's needs and the field to change.
func TestFlinkDeploymentAccountsFollowTheRoles(t *testing.T) {
	t.Parallel()
	p, err := policy.Parse([]byte("{}\n"))
	require.NoError(t, err)
	exempt, err := policy.Parse([]byte("exemptNamespaces: [team]\n"))
	require.NoError(t, err)
	optIn, err := policy.Parse([]byte("mode: opt-in\n"))
	require.NoError(t, err)
	v120 := flinkconf.Exactly(flinkconf.V1_20)
	sa := field.NewPath("spec", "serviceAccount")
	conf := field.NewPath("spec", "flinkConfiguration")
	jmKey, tmKey := conf.Key("kubernetes.jobmanager.service-account"), conf.Key("kubernetes.taskmanager.service-account")
	jm := func(name string, path *field.Path, native bool) Account {
		return Account{Namespace: "team", Name: name, Path: path, RoleKey: path != sa, Native: native, Flink: v120}
	}
	tm := func(name string, path *field.Path) Account {
		return Account{Namespace: "team", Name: name, Path: path, RoleKey: path != sa, TaskManager: true, Flink: v120}
	}
	cases := map[string]struct {
		spec string
		p    *policy.Policy
		want []Account
	}{
		"both roles under spec.serviceAccount are one account with the JobManager's needs": {
			spec: `serviceAccount: mine`,
			want: []Account{jm("mine", sa, true)},
		},
		"a JobManager key naming the namespace's default account is checked: mutation leaves the key alone": {
			spec: `{serviceAccount: flink-ha, flinkConfiguration: {kubernetes.jobmanager.service-account: default}}`,
			want: []Account{jm("default", jmKey, true)},
		},
		"an empty JobManager key is the default account, as a pod that names none": {
			spec: `{serviceAccount: flink-ha, flinkConfiguration: {kubernetes.jobmanager.service-account: ""}}`,
			want: []Account{jm("default", jmKey, true)},
		},
		"a TaskManager key is checked with what TaskManagers need": {
			spec: `{serviceAccount: flink-ha, flinkConfiguration: {kubernetes.taskmanager.service-account: workers}}`,
			want: []Account{tm("workers", tmKey)},
		},
		"the nested form names the same keys": {
			spec: `{serviceAccount: flink-ha, flinkConfiguration: {kubernetes: {jobmanager: {service-account: leader}, taskmanager: {service-account: workers}}}}`,
			want: []Account{jm("leader", jmKey, true), tm("workers", tmKey)},
		},
		"a JobManager key beside a chosen spec.serviceAccount: the TaskManagers run under spec.serviceAccount": {
			spec: `{serviceAccount: mine, flinkConfiguration: {kubernetes.jobmanager.service-account: leader}}`,
			want: []Account{jm("leader", jmKey, true), tm("mine", sa)},
		},
		"a JobManager key naming spec.serviceAccount's account is checked on each field that names it": {
			spec: `{serviceAccount: mine, flinkConfiguration: {kubernetes.jobmanager.service-account: mine}}`,
			want: []Account{jm("mine", jmKey, true), tm("mine", sa)},
		},
		"a JobManager key naming the webhook's account beside another spec.serviceAccount is not checked, the webhook binds its account for the JobManager: only the TaskManagers' account to check": {
			spec: `{serviceAccount: mine, flinkConfiguration: {kubernetes.jobmanager.service-account: flink-ha}}`,
			want: []Account{tm("mine", sa)},
		},
		"a TaskManager key naming the webhook's account beside another spec.serviceAccount is not checked: only the JobManager's account to check": {
			spec: `{serviceAccount: mine, flinkConfiguration: {kubernetes.taskmanager.service-account: flink-ha}}`,
			want: []Account{jm("mine", sa, true)},
		},
		"role keys naming the webhook's account beside another spec.serviceAccount: nothing to check, no pod runs under spec.serviceAccount": {
			spec: `{serviceAccount: mine, flinkConfiguration: {kubernetes.jobmanager.service-account: flink-ha, kubernetes.taskmanager.service-account: flink-ha}}`,
		},
		"a JobManager key naming the webhook's account beside the webhook's spec.serviceAccount: only the TaskManagers' own key to check": {
			spec: `{serviceAccount: flink-ha, flinkConfiguration: {kubernetes.jobmanager.service-account: flink-ha, kubernetes.taskmanager.service-account: workers}}`,
			want: []Account{tm("workers", tmKey)},
		},
		"a standalone JobManager makes no pods": {
			spec: `{mode: standalone, serviceAccount: flink-ha, flinkConfiguration: {kubernetes.jobmanager.service-account: leader}}`,
			want: []Account{jm("leader", jmKey, false)},
		},
		"kubernetes.service-account in flinkConfiguration is overwritten by the operator: nothing to check": {
			spec: `{serviceAccount: flink-ha, flinkConfiguration: {kubernetes.service-account: other}}`,
		},
		"keys absent and the webhook's account: nothing to check": {
			spec: `serviceAccount: flink-ha`,
		},
		"keys naming the webhook's account: nothing to check": {
			spec: `{serviceAccount: flink-ha, flinkConfiguration: {kubernetes.jobmanager.service-account: flink-ha, kubernetes.taskmanager.service-account: flink-ha}}`,
		},
		"spec.serviceAccount default, which mutation replaces: nothing to check": {
			spec: `serviceAccount: default`,
		},
		"an exempt namespace: nothing to check": {
			spec: `{serviceAccount: mine, flinkConfiguration: {kubernetes.jobmanager.service-account: leader}}`, p: exempt,
		},
		"a cluster the policy leaves alone (opt-in, no HA): nothing to check": {
			spec: `{serviceAccount: mine, flinkConfiguration: {kubernetes.jobmanager.service-account: leader}}`, p: optIn,
		},
	}
	for name, tc := range cases {
		var spec map[string]any
		require.NoError(t, yaml.Unmarshal([]byte(tc.spec), &spec), name)
		spec["flinkVersion"] = "v1_20"
		u := &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"namespace": "team", "name": "orders"}, "spec": spec}}
		pol := p
		if tc.p != nil {
			pol = tc.p
		}
		assert.Equal(t, tc.want, FlinkDeploymentAccounts(u, pol), name)
	}
}

// TestAccountFixNamesTheField: the way out names the field the account
// came from.
func TestAccountFixNamesTheField(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "bind it to a Role that allows it, or leave the account to the webhook (flink-ha)",
		Account{Name: "mine"}.Fix("flink-ha"))
	assert.Equal(t, "bind it to a Role that allows it, or set the key to the webhook's account (flink-ha), "+
		"or remove it for the TaskManagers to run under spec.serviceAccount",
		Account{Name: "workers", RoleKey: true, TaskManager: true}.Fix("flink-ha"))
	assert.Equal(t, "bind it to a Role that allows it, or set the key to the webhook's account (flink-ha), "+
		"or remove it for the JobManager to run under spec.serviceAccount",
		Account{Name: "leader", RoleKey: true}.Fix("flink-ha"))
	assert.Equal(t, "bind it to a Role that allows it, or leave the account to the webhook (flink-ha), "+
		"whose Services rights on the host network you grant yourself",
		Account{Name: "edge", Native: true, HostNetwork: true}.Fix("flink-ha"), "the webhook's account has no Services rights either")
}

package accounts

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/flink-ha-webhook/flink-ha-webhook/nspolicy"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
)

func deploymentUnder(name, account string) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: name},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{ServiceAccountName: account}}}}
}

func bindingOf(account, name, role string, labels map[string]string) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: name, Labels: labels},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: account, Namespace: "team"}},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
	}
}

func withSubjects(rb *rbacv1.RoleBinding, subjects ...rbacv1.Subject) *rbacv1.RoleBinding {
	rb = rb.DeepCopy()
	rb.Subjects = subjects
	return rb
}

func accountNamed(name string, labels map[string]string) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: name, Labels: labels}}
}

// TestReconcileFollowsTheNamespacePolicy runs Reconcile in a namespace
// whose FlinkHAPolicy names team-flink (the policy file names flink-ha)
// and compares the accounts and bindings that are there afterwards, whole.
func TestReconcileFollowsTheNamespacePolicy(t *testing.T) {
	t.Parallel()
	file, err := policy.Parse([]byte("serviceAccount: flink-ha\nexemptNamespaces: [legacy]\n"))
	require.NoError(t, err)
	team, err := (&nspolicy.Spec{ServiceAccount: "team-flink"}).Apply(file)
	require.NoError(t, err)
	const standaloneRole, nativeRole = "flink-ha-webhook:flink-standalone", "flink-ha-webhook:flink-native"
	teamStandalone := bindingOf("team-flink", "team-flink", standaloneRole, ours)
	teamNative := bindingOf("team-flink", "team-flink-native", nativeRole, ours)
	fileStandalone := bindingOf("flink-ha", "flink-ha", standaloneRole, ours)
	fileNative := bindingOf("flink-ha", "flink-ha-native", nativeRole, ours)
	usersBinding := bindingOf("flink-ha", "flink-ha", standaloneRole, map[string]string{"team": "data"})
	cases := map[string]struct {
		policy       *policy.Policy
		namespace    string
		existing     []client.Object
		wantAccounts []string
		wantBindings []*rbacv1.RoleBinding
	}{
		"a JobManager under the namespace's account gets that account, bound": {
			policy: team, existing: []client.Object{deploymentUnder("jm", "team-flink")},
			wantAccounts: []string{"team-flink"}, wantBindings: []*rbacv1.RoleBinding{teamStandalone},
		},
		"a FlinkDeployment under the namespace's account also binds native Flink's rights": {
			policy: team, existing: []client.Object{flinkDeployment("team", "team-flink")},
			wantAccounts: []string{"team-flink"}, wantBindings: []*rbacv1.RoleBinding{teamStandalone, teamNative},
		},
		"a native JobManager Flink's own client made under the namespace's account also binds native Flink's rights": {
			policy: team, existing: []client.Object{cachedJobManager(t, "team-flink", true)},
			wantAccounts: []string{"team-flink"}, wantBindings: []*rbacv1.RoleBinding{teamStandalone, teamNative},
		},
		"a standalone FlinkDeployment under the namespace's account binds nothing native": {
			policy: team, existing: []client.Object{inMode(flinkDeployment("team", "team-flink"), "standalone")},
			wantAccounts: []string{"team-flink"}, wantBindings: []*rbacv1.RoleBinding{teamStandalone},
		},
		"the native binding goes with the last native JobManager, while a standalone one still runs under the account": {
			policy:       team,
			existing:     []client.Object{cachedJobManager(t, "team-flink", false), accountNamed("team-flink", ours), teamStandalone, teamNative},
			wantAccounts: []string{"team-flink"}, wantBindings: []*rbacv1.RoleBinding{teamStandalone},
		},
		"the native binding goes with the last FlinkDeployment, even when nothing else runs under the account": {
			policy:       team,
			existing:     []client.Object{accountNamed("team-flink", ours), teamStandalone, teamNative},
			wantAccounts: []string{"team-flink"}, wantBindings: []*rbacv1.RoleBinding{teamStandalone},
		},
		"a native FlinkDeployment whose JobManager key names the namespace's account, beside another spec.serviceAccount, gets that account bound native": {
			policy: team, existing: []client.Object{withConf(flinkDeployment("team", "other"), jmKey, "team-flink")},
			wantAccounts: []string{"team-flink"}, wantBindings: []*rbacv1.RoleBinding{teamStandalone, teamNative},
		},
		"a FlinkDeployment whose TaskManager key names the namespace's account gets that account, bound standalone only": {
			policy: team, existing: []client.Object{withConf(flinkDeployment("team", "other"), tmKey, "team-flink")},
			wantAccounts: []string{"team-flink"}, wantBindings: []*rbacv1.RoleBinding{teamStandalone},
		},
		"a FlinkDeployment under the namespace's account whose JobManager key names another keeps the account for its TaskManagers, without native rights": {
			policy:       team,
			existing:     []client.Object{withConf(flinkDeployment("team", "team-flink"), jmKey, "leader"), accountNamed("team-flink", ours), teamStandalone, teamNative},
			wantAccounts: []string{"team-flink"}, wantBindings: []*rbacv1.RoleBinding{teamStandalone},
		},
		"nothing is made for a FlinkDeployment whose role keys both name other accounts: no pod runs under spec.serviceAccount": {
			policy: team, existing: []client.Object{withConf(withConf(flinkDeployment("team", "team-flink"), jmKey, "leader"), tmKey, "workers")},
		},
		"the account of the former policy stays while TaskManagers still run under it": {
			policy:       team,
			existing:     []client.Object{withConf(flinkDeployment("team", "team-flink"), tmKey, "flink-ha"), accountNamed("flink-ha", ours), fileStandalone},
			wantAccounts: []string{"flink-ha", "team-flink"}, wantBindings: []*rbacv1.RoleBinding{fileStandalone, teamStandalone, teamNative},
		},
		"the policy file's account is not made where the namespace's policy names another": {
			policy: team, existing: []client.Object{deploymentUnder("jm", "flink-ha")},
		},
		"nothing is made where nothing runs under the namespace's account": {
			policy: team,
		},
		"the account of the former policy goes once nothing runs under it": {
			policy:       team,
			existing:     []client.Object{deploymentUnder("jm", "team-flink"), accountNamed("flink-ha", ours), fileStandalone, fileNative},
			wantAccounts: []string{"team-flink"}, wantBindings: []*rbacv1.RoleBinding{teamStandalone},
		},
		"the account of the former policy stays while a cluster still runs under it": {
			policy: team,
			existing: []client.Object{deploymentUnder("jm", "team-flink"), deploymentUnder("old-jm", "flink-ha"),
				accountNamed("flink-ha", ours), fileStandalone},
			wantAccounts: []string{"flink-ha", "team-flink"}, wantBindings: []*rbacv1.RoleBinding{fileStandalone, teamStandalone},
		},
		"a user's account and binding of the former name stay": {
			policy:       team,
			existing:     []client.Object{deploymentUnder("jm", "team-flink"), accountNamed("flink-ha", nil), usersBinding},
			wantAccounts: []string{"flink-ha", "team-flink"}, wantBindings: []*rbacv1.RoleBinding{usersBinding, teamStandalone},
		},
		"a binding of ours that binds something else is not taken for a former account's": {
			policy: team,
			existing: []client.Object{deploymentUnder("jm", "team-flink"),
				bindingOf("flink-ha", "shared", standaloneRole, ours)},
			wantAccounts: []string{"team-flink"},
			wantBindings: []*rbacv1.RoleBinding{bindingOf("flink-ha", "shared", standaloneRole, ours), teamStandalone},
		},
		"bindings of ours that bind several subjects, a user or another namespace's account are not taken for a former account's": {
			policy: team,
			existing: []client.Object{deploymentUnder("jm", "team-flink"),
				withSubjects(fileStandalone, fileStandalone.Subjects[0], rbacv1.Subject{Kind: rbacv1.UserKind, Name: "mallory"}),
				withSubjects(fileNative, rbacv1.Subject{Kind: rbacv1.UserKind, Name: "flink-ha"}),
				withSubjects(bindingOf("web", "web", standaloneRole, ours), rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: "web", Namespace: "web"})},
			wantAccounts: []string{"team-flink"},
			wantBindings: []*rbacv1.RoleBinding{
				withSubjects(fileStandalone, fileStandalone.Subjects[0], rbacv1.Subject{Kind: rbacv1.UserKind, Name: "mallory"}),
				withSubjects(fileNative, rbacv1.Subject{Kind: rbacv1.UserKind, Name: "flink-ha"}),
				teamStandalone,
				withSubjects(bindingOf("web", "web", standaloneRole, ours), rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: "web", Namespace: "web"})},
		},
		"a namespace back under the policy file gets the file's account, and the team's goes": {
			policy: file,
			existing: []client.Object{deploymentUnder("jm", "flink-ha"),
				accountNamed("team-flink", ours), teamStandalone},
			wantAccounts: []string{"flink-ha"}, wantBindings: []*rbacv1.RoleBinding{fileStandalone},
		},
		"an exempt namespace is left alone": {
			policy: file, namespace: "legacy",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ns := tc.namespace
			if ns == "" {
				ns = "team"
			}
			var objs []client.Object
			for _, o := range tc.existing {
				o = o.DeepCopyObject().(client.Object)
				o.SetNamespace(ns)
				objs = append(objs, o)
			}
			c := fake.NewClientBuilder().WithScheme(testScheme(t)).WithObjects(objs...).Build()
			r := &Reconciler{Client: c, Reader: c, Policy: file, ClusterRolePrefix: DefaultClusterRolePrefix,
				PolicyFor: func(context.Context, string) (*policy.Policy, error) { return tc.policy, nil }}
			require.NoError(t, r.Reconcile(context.Background(), ns))

			var sas corev1.ServiceAccountList
			require.NoError(t, c.List(context.Background(), &sas, client.InNamespace(ns)))
			var gotAccounts []string
			for _, sa := range sas.Items {
				gotAccounts = append(gotAccounts, sa.Name)
			}
			assert.Equal(t, tc.wantAccounts, gotAccounts)
			var rbs rbacv1.RoleBindingList
			require.NoError(t, c.List(context.Background(), &rbs, client.InNamespace(ns)))
			var gotBindings []*rbacv1.RoleBinding
			for _, b := range rbs.Items {
				gotBindings = append(gotBindings, &rbacv1.RoleBinding{
					ObjectMeta: metav1.ObjectMeta{Namespace: b.Namespace, Name: b.Name, Labels: b.Labels},
					Subjects:   b.Subjects, RoleRef: b.RoleRef,
				})
			}
			assert.Equal(t, tc.wantBindings, gotBindings)

			after := versions(t, c)
			require.NoError(t, r.Reconcile(context.Background(), ns))
			assert.Equal(t, after, versions(t, c), "a second Reconcile writes nothing")
		})
	}
}

// TestReconcileOnAnUnreadablePolicy: where a namespace's policy cannot be
// read, the account admission gives meanwhile (the policy For returns with
// the error) is ensured, nothing is removed, and the error is returned for
// a retry; with no policy at all nothing changes; a namespace that is gone
// is done, but one the namespace cache has not seen yet is treated as
// unreadable: admission's account is ensured and the namespace retried.
func TestReconcileOnAnUnreadablePolicy(t *testing.T) {
	t.Parallel()
	file, err := policy.Parse([]byte("serviceAccount: flink-ha\n"))
	require.NoError(t, err)
	const standaloneRole = "flink-ha-webhook:flink-standalone"
	existing := []client.Object{deploymentUnder("jm", "flink-ha"), accountNamed("team-flink", ours), bindingOf("team-flink", "team-flink", standaloneRole, ours)}
	unreadable := errors.New("listing FlinkHAPolicies: timeout")
	for name, tc := range map[string]struct {
		policy       *policy.Policy
		err          error
		exists       bool // the namespace is in the API server, whatever the cache says
		wantErr      string
		wantAccounts []string
		wantBindings []string
	}{
		"the account admission gives is ensured and nothing is removed": {
			policy: file, err: unreadable,
			wantErr:      "reading the policy of namespace team, removing nothing there: listing FlinkHAPolicies: timeout",
			wantAccounts: []string{"flink-ha", "team-flink"}, wantBindings: []string{"flink-ha", "team-flink"},
		},
		"without any policy nothing changes": {
			err:          unreadable,
			wantErr:      "reading the policy of namespace team, changing nothing there: listing FlinkHAPolicies: timeout",
			wantAccounts: []string{"team-flink"}, wantBindings: []string{"team-flink"},
		},
		"a deleted namespace is done": {
			policy: file, err: apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, "team"),
			wantAccounts: []string{"team-flink"}, wantBindings: []string{"team-flink"},
		},
		"a namespace the cache has not seen yet is retried, not taken for gone": {
			policy: file, err: apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, "team"), exists: true,
			wantErr:      `reading the policy of namespace team, removing nothing there: not in the namespace cache yet: namespaces "team" not found`,
			wantAccounts: []string{"flink-ha", "team-flink"}, wantBindings: []string{"flink-ha", "team-flink"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// The fake client sets the resourceVersion of what it is given:
			// each parallel case gets its own copies.
			objs := copies(existing)
			if tc.exists {
				objs = append(objs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}})
			}
			c := fake.NewClientBuilder().WithScheme(testScheme(t)).WithObjects(objs...).Build()
			r := &Reconciler{Client: c, Reader: c, Policy: file, ClusterRolePrefix: DefaultClusterRolePrefix,
				PolicyFor: func(context.Context, string) (*policy.Policy, error) { return tc.policy, tc.err }}
			err := r.Reconcile(context.Background(), "team")
			if tc.wantErr == "" {
				require.NoError(t, err)
			} else {
				require.EqualError(t, err, tc.wantErr)
			}
			var sas corev1.ServiceAccountList
			require.NoError(t, c.List(context.Background(), &sas))
			var gotAccounts []string
			for _, sa := range sas.Items {
				gotAccounts = append(gotAccounts, sa.Name)
			}
			assert.Equal(t, tc.wantAccounts, gotAccounts)
			var rbs rbacv1.RoleBindingList
			require.NoError(t, c.List(context.Background(), &rbs))
			var gotBindings []string
			for _, rb := range rbs.Items {
				gotBindings = append(gotBindings, rb.Name)
			}
			assert.Equal(t, tc.wantBindings, gotBindings)
		})
	}
}

// TestEventsFollowTheNamespacePolicy: a workload queues its namespace when
// it runs under the account of that namespace's policy; a policy change
// queues every namespace where a workload names an account or an account
// of ours exists, and no other.
func TestEventsFollowTheNamespacePolicy(t *testing.T) {
	t.Parallel()
	file, err := policy.Parse([]byte("serviceAccount: flink-ha\nexemptNamespaces: [legacy]\n"))
	require.NoError(t, err)
	team, err := (&nspolicy.Spec{ServiceAccount: "team-flink"}).Apply(file)
	require.NoError(t, err)
	policies := map[string]*policy.Policy{"team": team}
	r := &Reconciler{Policy: file, PolicyFor: func(_ context.Context, ns string) (*policy.Policy, error) {
		if p, ok := policies[ns]; ok {
			return p, nil
		}
		return file, nil
	}}
	in := func(ns, account string) *appsv1.Deployment {
		d := deploymentUnder("jm", account)
		d.Namespace = ns
		return d
	}
	for name, tc := range map[string]struct {
		obj  client.Object
		want bool
	}{
		"under the account of its namespace's FlinkHAPolicy":                                            {in("team", "team-flink"), true},
		"under the policy file's account where a policy applies":                                        {in("team", "flink-ha"), false},
		"under the policy file's account where none applies":                                            {in("web", "flink-ha"), true},
		"under the FlinkHAPolicy's account in another namespace":                                        {in("web", "team-flink"), false},
		"a FlinkDeployment under its namespace's account":                                               {flinkDeployment("team", "team-flink"), true},
		"a FlinkDeployment whose JobManager key names its namespace's account":                          {withConf(flinkDeployment("team", "other"), jmKey, "team-flink"), true},
		"a FlinkDeployment whose JobManager key names the policy file's account where a policy applies": {withConf(flinkDeployment("team", "other"), jmKey, "flink-ha"), false},
		"in an exempt namespace":                                                                        {in("legacy", "flink-ha"), false},
	} {
		assert.Equal(t, tc.want, r.usesAccount(context.Background(), tc.obj), name)
	}

	withSA := in("team", "team-flink")
	noSA := in("web", "")
	ourAccount := accountNamed("flink-ha", ours)
	ourAccount.Namespace = "old"
	c := fake.NewClientBuilder().WithScheme(testScheme(t)).WithObjects(withSA, noSA, ourAccount).Build()
	r.Client = c
	var got []string
	for _, req := range r.namespacesWithFlink(context.Background(), nil) {
		got = append(got, req.Name)
	}
	assert.ElementsMatch(t, []string{"team", "old"}, got)
}

// TestReconcileWithoutNamespacePolicies: without live namespace policies
// Reconcile is Ensure, as before them: the policy file's account is made
// and bound in the namespace queued, and no other account of ours is
// removed.
func TestReconcileWithoutNamespacePolicies(t *testing.T) {
	t.Parallel()
	file, err := policy.Parse([]byte("serviceAccount: flink-ha\n"))
	require.NoError(t, err)
	c := fake.NewClientBuilder().WithScheme(testScheme(t)).WithObjects(
		accountNamed("team-flink", ours), bindingOf("team-flink", "team-flink", "flink-ha-webhook:flink-standalone", ours)).Build()
	r := &Reconciler{Client: c, Reader: c, Policy: file, ClusterRolePrefix: DefaultClusterRolePrefix}
	require.NoError(t, r.Reconcile(context.Background(), "team"))
	assert.Equal(t, map[string]string{"sa/flink-ha": "1", "sa/team-flink": "999", "rb/flink-ha": "1", "rb/team-flink": "999"}, versions(t, c))
}

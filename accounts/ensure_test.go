package accounts

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/flink-ha-webhook/flink-ha-webhook/nspolicy"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
)

func testScheme(t *testing.T) *runtime.Scheme {
	s := runtime.NewScheme()
	require.NoError(t, clientgoscheme.AddToScheme(s))
	s.AddKnownTypeWithName(FlinkDeploymentGVK, &unstructured.Unstructured{})
	s.AddKnownTypeWithName(FlinkDeploymentGVK.GroupVersion().WithKind("FlinkDeploymentList"), &unstructured.UnstructuredList{})
	s.AddKnownTypeWithName(nspolicy.GroupVersionKind, &unstructured.Unstructured{})
	s.AddKnownTypeWithName(nspolicy.GroupVersionKind.GroupVersion().WithKind("FlinkHAPolicyList"), &unstructured.UnstructuredList{})
	return s
}

func flinkDeployment(ns, account string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"serviceAccount": account}}}
	u.SetGroupVersionKind(FlinkDeploymentGVK)
	u.SetNamespace(ns)
	u.SetName("orders")
	return u
}

// inMode sets a FlinkDeployment's spec.mode.
func inMode(u *unstructured.Unstructured, mode string) *unstructured.Unstructured {
	u = u.DeepCopy()
	_ = unstructured.SetNestedField(u.Object, mode, "spec", "mode")
	return u
}

// The keys of a FlinkDeployment's flinkConfiguration that name the
// account of each role's pods.
const jmKey, tmKey = "kubernetes.jobmanager.service-account", "kubernetes.taskmanager.service-account"

// withConf sets a key of a FlinkDeployment's flinkConfiguration, flat.
func withConf(u *unstructured.Unstructured, key, value string) *unstructured.Unstructured {
	u = u.DeepCopy()
	_ = unstructured.SetNestedField(u.Object, value, "spec", "flinkConfiguration", key)
	return u
}

// inConf sets a FlinkDeployment's whole flinkConfiguration.
func inConf(u *unstructured.Unstructured, conf map[string]any) *unstructured.Unstructured {
	u = u.DeepCopy()
	_ = unstructured.SetNestedMap(u.Object, conf, "spec", "flinkConfiguration")
	return u
}

var ours = map[string]string{managedByLabel: ManagedBy}

func binding(name, roleKind, role string, labels map[string]string) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: name, Labels: labels},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "flink-ha", Namespace: "team"}},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: roleKind, Name: role},
	}
}

// TestEnsure runs Ensure on what a namespace holds and compares the
// account and bindings that are there afterwards, whole.
func TestEnsure(t *testing.T) {
	t.Parallel()
	p, err := policy.Parse([]byte("{}\n"))
	require.NoError(t, err)
	standalone := binding("flink-ha", "ClusterRole", "flink-ha-webhook:flink-standalone", ours)
	native := binding("flink-ha-native", "ClusterRole", "flink-ha-webhook:flink-native", ours)
	usersAccount := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "flink-ha", Labels: map[string]string{"team": "data"}}}
	ourAccount := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "flink-ha", Labels: ours}}
	usersBinding := binding("flink-ha", "Role", "my-own", map[string]string{"team": "data"})
	drifted := standalone.DeepCopy()
	drifted.Subjects = []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: "mallory"}}
	olderInstall := binding("flink-ha", "Role", "flink-ha", ours)

	oldRole := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "flink-ha", Labels: ours},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "update"}}}}
	usersRole := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "flink-ha"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"*"}}}}
	pulls := func(names ...string) []corev1.LocalObjectReference {
		var refs []corev1.LocalObjectReference
		for _, n := range names {
			refs = append(refs, corev1.LocalObjectReference{Name: n})
		}
		return refs
	}
	defaultAccount := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "default"}, ImagePullSecrets: pulls("registry", "mirror")}
	ourAccountWithOwn := ourAccount.DeepCopy()
	ourAccountWithOwn.ImagePullSecrets = pulls("own", "mirror")
	cases := map[string]struct {
		existing     []client.Object
		wantAccount  *corev1.ServiceAccount
		wantBindings []*rbacv1.RoleBinding
		wantRoles    []string
		wantPulls    []corev1.LocalObjectReference
	}{
		"our account gets the image pull secrets of the default account, which Flink's pods leave": {
			existing:    []client.Object{defaultAccount},
			wantAccount: ourAccount, wantBindings: []*rbacv1.RoleBinding{standalone}, wantPulls: pulls("registry", "mirror"),
		},
		"our account gains those it lacks and keeps its own": {
			existing:    []client.Object{defaultAccount, ourAccountWithOwn, standalone},
			wantAccount: ourAccount, wantBindings: []*rbacv1.RoleBinding{standalone}, wantPulls: pulls("own", "mirror", "registry"),
		},
		"an account that is not ours gets no pull secrets": {
			existing:    []client.Object{defaultAccount, usersAccount},
			wantAccount: usersAccount, wantBindings: []*rbacv1.RoleBinding{standalone},
		},
		"an empty namespace gets the account bound to standalone Flink's rights": {
			wantAccount: ourAccount, wantBindings: []*rbacv1.RoleBinding{standalone},
		},
		"a FlinkDeployment under the account also binds native Flink's rights": {
			existing:    []client.Object{flinkDeployment("team", "flink-ha")},
			wantAccount: ourAccount, wantBindings: []*rbacv1.RoleBinding{standalone, native},
		},
		"a FlinkDeployment in native mode under the account also binds native Flink's rights": {
			existing:    []client.Object{inMode(flinkDeployment("team", "flink-ha"), "native")},
			wantAccount: ourAccount, wantBindings: []*rbacv1.RoleBinding{standalone, native},
		},
		"a FlinkDeployment in standalone mode under the account binds nothing native: the operator makes its TaskManagers": {
			existing:    []client.Object{inMode(flinkDeployment("team", "flink-ha"), "standalone")},
			wantAccount: ourAccount, wantBindings: []*rbacv1.RoleBinding{standalone},
		},
		"a FlinkDeployment switched to standalone mode takes our native binding away": {
			existing:    []client.Object{ourAccount, standalone, native, inMode(flinkDeployment("team", "flink-ha"), "standalone")},
			wantAccount: ourAccount, wantBindings: []*rbacv1.RoleBinding{standalone},
		},
		"a native JobManager Flink's own client made under the account also binds native Flink's rights": {
			existing:    []client.Object{cachedJobManager(t, "flink-ha", true)},
			wantAccount: ourAccount, wantBindings: []*rbacv1.RoleBinding{standalone, native},
		},
		"a native JobManager under another account binds nothing native": {
			existing:    []client.Object{cachedJobManager(t, "mine", true)},
			wantAccount: ourAccount, wantBindings: []*rbacv1.RoleBinding{standalone},
		},
		"a standalone JobManager under the account binds nothing native, and takes our native binding away": {
			existing:    []client.Object{ourAccount, standalone, native, cachedJobManager(t, "flink-ha", false)},
			wantAccount: ourAccount, wantBindings: []*rbacv1.RoleBinding{standalone},
		},
		"a Deployment whose type label has another value binds nothing native": {
			existing:    []client.Object{cached(t, labelledAs(jobManagerDeployment(true), "type", "web"))},
			wantAccount: ourAccount, wantBindings: []*rbacv1.RoleBinding{standalone},
		},
		"a Deployment labelled as a native JobManager that runs no Flink binds nothing native": {
			existing:    []client.Object{cached(t, runningNoFlink(jobManagerDeployment(true)))},
			wantAccount: ourAccount, wantBindings: []*rbacv1.RoleBinding{standalone},
		},
		"a FlinkDeployment under another account binds nothing native": {
			existing:    []client.Object{flinkDeployment("team", "mine")},
			wantAccount: ourAccount, wantBindings: []*rbacv1.RoleBinding{standalone},
		},
		"a native FlinkDeployment whose JobManager key names the account, beside another spec.serviceAccount, binds native Flink's rights": {
			existing:    []client.Object{withConf(flinkDeployment("team", "mine"), jmKey, "flink-ha")},
			wantAccount: ourAccount, wantBindings: []*rbacv1.RoleBinding{standalone, native},
		},
		"a FlinkDeployment under the account whose JobManager key names another binds nothing native: only its TaskManagers run under it": {
			existing:    []client.Object{withConf(flinkDeployment("team", "flink-ha"), jmKey, "leader")},
			wantAccount: ourAccount, wantBindings: []*rbacv1.RoleBinding{standalone},
		},
		"a JobManager key moved off the account takes our native binding away": {
			existing:    []client.Object{ourAccount, standalone, native, withConf(flinkDeployment("team", "flink-ha"), jmKey, "leader")},
			wantAccount: ourAccount, wantBindings: []*rbacv1.RoleBinding{standalone},
		},
		"a FlinkDeployment whose TaskManager key names the account binds nothing native": {
			existing:    []client.Object{withConf(flinkDeployment("team", "mine"), tmKey, "flink-ha")},
			wantAccount: ourAccount, wantBindings: []*rbacv1.RoleBinding{standalone},
		},
		"a FlinkDeployment whose kubernetes.service-account names the account binds nothing native: the operator overwrites that key": {
			existing:    []client.Object{withConf(flinkDeployment("team", "mine"), "kubernetes.service-account", "flink-ha")},
			wantAccount: ourAccount, wantBindings: []*rbacv1.RoleBinding{standalone},
		},
		"our native binding goes when no native cluster runs under the account": {
			existing:    []client.Object{ourAccount, standalone, native},
			wantAccount: ourAccount, wantBindings: []*rbacv1.RoleBinding{standalone},
		},
		"a native binding that is not ours stays": {
			existing:    []client.Object{ourAccount, standalone, binding("flink-ha-native", "Role", "x", nil)},
			wantAccount: ourAccount, wantBindings: []*rbacv1.RoleBinding{standalone, binding("flink-ha-native", "Role", "x", nil)},
		},
		"an account that is not ours is left as it is and bound": {
			existing:    []client.Object{usersAccount},
			wantAccount: usersAccount, wantBindings: []*rbacv1.RoleBinding{standalone},
		},
		"a binding that is not ours is left alone": {
			existing:    []client.Object{ourAccount, usersBinding},
			wantAccount: ourAccount, wantBindings: []*rbacv1.RoleBinding{usersBinding},
		},
		"drifted subjects of our binding are restored": {
			existing:    []client.Object{ourAccount, drifted},
			wantAccount: ourAccount, wantBindings: []*rbacv1.RoleBinding{standalone},
		},
		"our binding of a Role (an older install) is deleted and re-created with the ClusterRole, and our Role goes": {
			existing:    []client.Object{ourAccount, olderInstall, oldRole},
			wantAccount: ourAccount, wantBindings: []*rbacv1.RoleBinding{standalone},
		},
		"our binding of another ClusterRole is deleted and re-created with Flink's": {
			existing:    []client.Object{ourAccount, binding("flink-ha", "ClusterRole", "edit", ours)},
			wantAccount: ourAccount, wantBindings: []*rbacv1.RoleBinding{standalone},
		},
		"a Role that is not ours is left alone when our binding moves off it": {
			existing:    []client.Object{ourAccount, olderInstall, usersRole},
			wantAccount: ourAccount, wantBindings: []*rbacv1.RoleBinding{standalone}, wantRoles: []string{"flink-ha"},
		},
		"a Role that is not ours is left alone": {
			existing:    []client.Object{ourAccount, standalone, usersRole},
			wantAccount: ourAccount, wantBindings: []*rbacv1.RoleBinding{standalone}, wantRoles: []string{"flink-ha"},
		},
		"nothing changes when all is as it must be": {
			existing:    []client.Object{ourAccount, standalone},
			wantAccount: ourAccount, wantBindings: []*rbacv1.RoleBinding{standalone},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := fake.NewClientBuilder().WithScheme(testScheme(t)).WithObjects(copies(tc.existing)...).Build()
			before := versions(t, c)
			r := &Reconciler{Client: c, Reader: c, Policy: p, ClusterRolePrefix: DefaultClusterRolePrefix}
			require.NoError(t, r.Ensure(context.Background(), "team"))

			sa := &corev1.ServiceAccount{}
			require.NoError(t, c.Get(context.Background(), client.ObjectKey{Namespace: "team", Name: "flink-ha"}, sa))
			assert.Equal(t, tc.wantAccount.Labels, sa.Labels)
			assert.Equal(t, tc.wantPulls, sa.ImagePullSecrets)
			var got rbacv1.RoleBindingList
			require.NoError(t, c.List(context.Background(), &got, client.InNamespace("team")))
			var gotBindings []*rbacv1.RoleBinding
			for i := range got.Items {
				b := got.Items[i]
				gotBindings = append(gotBindings, &rbacv1.RoleBinding{
					ObjectMeta: metav1.ObjectMeta{Namespace: b.Namespace, Name: b.Name, Labels: b.Labels},
					Subjects:   b.Subjects, RoleRef: b.RoleRef,
				})
			}
			assert.Equal(t, tc.wantBindings, gotBindings)
			var roles rbacv1.RoleList
			require.NoError(t, c.List(context.Background(), &roles, client.InNamespace("team")))
			var roleNames []string
			for _, role := range roles.Items {
				roleNames = append(roleNames, role.Name)
				assert.Equal(t, usersRole.Rules, role.Rules, "a user's Role keeps its rules")
			}
			assert.Equal(t, tc.wantRoles, roleNames)
			if name == "nothing changes when all is as it must be" {
				assert.Equal(t, before, versions(t, c), "no object is written")
			}
			// A second run changes nothing: Ensure is level-triggered.
			after := versions(t, c)
			require.NoError(t, r.Ensure(context.Background(), "team"))
			assert.Equal(t, after, versions(t, c), "a second Ensure writes nothing")
		})
	}
}

func versions(t *testing.T, c client.Client) map[string]string {
	out := map[string]string{}
	var sas corev1.ServiceAccountList
	require.NoError(t, c.List(context.Background(), &sas))
	for _, o := range sas.Items {
		out["sa/"+o.Name] = o.ResourceVersion
	}
	var rbs rbacv1.RoleBindingList
	require.NoError(t, c.List(context.Background(), &rbs))
	for _, o := range rbs.Items {
		out["rb/"+o.Name] = o.ResourceVersion
	}
	return out
}

package accounts

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
)

// refusal is what the API server answers to one operation, named by verb,
// kind and object name ("delete RoleBinding flink-ha-native"), by verb and
// list kind ("list DeploymentList"), or by verb alone (every create).
type refusal struct {
	op  string
	err error
	// meanwhile: someone else did the same first (the operation happens,
	// and err, NotFound or AlreadyExists, is the answer).
	meanwhile bool
}

// refusing passes every operation to the fake client but the refused one.
func refusing(t *testing.T, s *runtime.Scheme, r refusal) interceptor.Funcs {
	answer := func(verb string, obj runtime.Object, name string, do func() error) error {
		gvk, err := apiutil.GVKForObject(obj, s)
		require.NoError(t, err)
		key := verb + " " + gvk.Kind
		if name != "" {
			key += " " + name
		}
		if r.op != key && r.op != verb {
			return do()
		}
		if r.meanwhile {
			require.NoError(t, do())
		}
		return r.err
	}
	return interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			return answer("get", obj, key.Name, func() error { return c.Get(ctx, key, obj, opts...) })
		},
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			return answer("list", list, "", func() error { return c.List(ctx, list, opts...) })
		},
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			return answer("create", obj, obj.GetName(), func() error { return c.Create(ctx, obj, opts...) })
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			return answer("update", obj, obj.GetName(), func() error { return c.Update(ctx, obj, opts...) })
		},
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			return answer("delete", obj, obj.GetName(), func() error { return c.Delete(ctx, obj, opts...) })
		},
	}
}

// terminating is the API server's answer to a create in a namespace being
// deleted (its NamespaceLifecycle admission plugin).
func terminating(ns string) error {
	err := apierrors.NewForbidden(schema.GroupResource{Resource: "serviceaccounts"}, "flink-ha",
		errors.New("unable to create new content in namespace "+ns+" because it is being terminated"))
	err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{
		Type: corev1.NamespaceTerminatingCause, Message: "namespace " + ns + " is being terminated", Field: "metadata.namespace",
	})
	return err
}

// TestWhatTheAPIServerRefuses runs Reconcile (Ensure where named) while
// the API server refuses one operation, and compares the error and the
// accounts, bindings and Roles there afterwards, whole: a refusal is
// returned for a retry, saying what could not be done, and changes
// nothing else; what someone else did first is no error.
func TestWhatTheAPIServerRefuses(t *testing.T) {
	t.Parallel()
	file, err := policy.Parse([]byte("serviceAccount: flink-ha\n"))
	require.NoError(t, err)
	const standaloneRole, nativeRole = "flink-ha-webhook:flink-standalone", "flink-ha-webhook:flink-native"
	down := apierrors.NewServiceUnavailable("the API server is down")
	gone := apierrors.NewNotFound(schema.GroupResource{Resource: "rolebindings"}, "x")
	jm := deploymentUnder("jm", "flink-ha")
	account := accountNamed("flink-ha", ours)
	standalone := bindingOf("flink-ha", "flink-ha", standaloneRole, ours)
	native := bindingOf("flink-ha", "flink-ha-native", nativeRole, ours)
	drifted := standalone.DeepCopy()
	drifted.Subjects = []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: "mallory"}}
	olderInstall := binding("flink-ha", "Role", "flink-ha", ours)
	oldRole := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "flink-ha", Labels: ours}}
	formerAccount, formerBinding := accountNamed("old", ours), bindingOf("old", "old", standaloneRole, ours)
	cases := map[string]struct {
		ensure       bool // Ensure, under the policy file, instead of Reconcile under a namespace policy
		policyErr    error
		stored       []client.Object
		refuse       refusal
		wantErr      string
		wantAccounts []string
		wantBindings []string
		wantRoles    []string
	}{
		"Ensure returns a policy it cannot read": {
			ensure: true, policyErr: errors.New("listing FlinkHAPolicies: timeout"), stored: []client.Object{jm},
			wantErr: "reading the policy of namespace team: listing FlinkHAPolicies: timeout",
		},
		"an account that cannot be read is returned": {
			stored: []client.Object{jm}, refuse: refusal{op: "get ServiceAccount flink-ha", err: down},
			wantErr: "ensuring ServiceAccount team/flink-ha: the API server is down",
		},
		"an account that cannot be created is returned": {
			stored: []client.Object{jm}, refuse: refusal{op: "create ServiceAccount flink-ha", err: down},
			wantErr: "ensuring ServiceAccount team/flink-ha: the API server is down",
		},
		"an account made meanwhile is no error, and is bound": {
			stored:       []client.Object{jm},
			refuse:       refusal{op: "create ServiceAccount flink-ha", err: apierrors.NewAlreadyExists(schema.GroupResource{Resource: "serviceaccounts"}, "flink-ha"), meanwhile: true},
			wantAccounts: []string{"flink-ha"}, wantBindings: []string{"flink-ha"},
		},
		"a terminating namespace, where nothing can be made, is no error and not retried": {
			stored: []client.Object{jm}, refuse: refusal{op: "create", err: terminating("team")},
		},
		"a terminating namespace refusing the binding of an existing account is no error": {
			stored: []client.Object{jm, account}, refuse: refusal{op: "create", err: terminating("team")},
			wantAccounts: []string{"flink-ha"},
		},
		"workloads that cannot be listed are returned, and nothing is made": {
			stored: []client.Object{jm}, refuse: refusal{op: "list StatefulSetList", err: down},
			wantErr: "listing the workloads of team: the API server is down",
		},
		"FlinkDeployments that cannot be listed are returned, and nothing is made": {
			stored: []client.Object{jm}, refuse: refusal{op: "list FlinkDeploymentList", err: down},
			wantErr: "listing FlinkDeployments in team: the API server is down",
		},
		"without the FlinkDeployment CRD there are none: standalone Flink's rights only": {
			ensure: true, stored: []client.Object{jm, account, standalone, native},
			refuse:       refusal{op: "list FlinkDeploymentList", err: &meta.NoKindMatchError{GroupKind: FlinkDeploymentGVK.GroupKind(), SearchedVersions: []string{"v1beta1"}}},
			wantAccounts: []string{"flink-ha"}, wantBindings: []string{"flink-ha"},
		},
		"a binding that cannot be created is returned": {
			stored: []client.Object{jm, account}, refuse: refusal{op: "create RoleBinding flink-ha", err: down},
			wantErr:      "ensuring RoleBinding team/flink-ha: the API server is down",
			wantAccounts: []string{"flink-ha"},
		},
		"drifted subjects that cannot be restored are returned": {
			stored: []client.Object{jm, account, drifted}, refuse: refusal{op: "update RoleBinding flink-ha", err: down},
			wantErr:      "ensuring RoleBinding team/flink-ha: the API server is down",
			wantAccounts: []string{"flink-ha"}, wantBindings: []string{"flink-ha"},
		},
		"a native binding that cannot be read is returned": {
			stored: []client.Object{jm, account, standalone, native}, refuse: refusal{op: "get RoleBinding flink-ha-native", err: down},
			wantErr:      "reading RoleBinding team/flink-ha-native: the API server is down",
			wantAccounts: []string{"flink-ha"}, wantBindings: []string{"flink-ha", "flink-ha-native"},
		},
		"a native binding that cannot be removed is returned": {
			stored: []client.Object{jm, account, standalone, native}, refuse: refusal{op: "delete RoleBinding flink-ha-native", err: down},
			wantErr:      "removing RoleBinding team/flink-ha-native: the API server is down",
			wantAccounts: []string{"flink-ha"}, wantBindings: []string{"flink-ha", "flink-ha-native"},
		},
		"a native binding that cannot be read where nothing runs under the account is returned": {
			stored: []client.Object{account, standalone, native}, refuse: refusal{op: "get RoleBinding flink-ha-native", err: down},
			wantErr:      "reading RoleBinding team/flink-ha-native: the API server is down",
			wantAccounts: []string{"flink-ha"}, wantBindings: []string{"flink-ha", "flink-ha-native"},
		},
		"FlinkDeployments that Ensure cannot list are returned once the account is made": {
			ensure: true, refuse: refusal{op: "list FlinkDeploymentList", err: down},
			wantErr:      "listing FlinkDeployments in team: the API server is down",
			wantAccounts: []string{"flink-ha"},
		},
		"a native binding removed meanwhile is no error": {
			stored:       []client.Object{jm, account, standalone, native},
			refuse:       refusal{op: "delete RoleBinding flink-ha-native", err: gone, meanwhile: true},
			wantAccounts: []string{"flink-ha"}, wantBindings: []string{"flink-ha"},
		},
		"a binding whose roleRef changed and that cannot be deleted is returned, and stays": {
			stored: []client.Object{jm, account, olderInstall, oldRole}, refuse: refusal{op: "delete RoleBinding flink-ha", err: down},
			wantErr:      "ensuring RoleBinding team/flink-ha: replacing RoleBinding team/flink-ha, whose roleRef cannot change: the API server is down",
			wantAccounts: []string{"flink-ha"}, wantBindings: []string{"flink-ha"}, wantRoles: []string{"flink-ha"},
		},
		"a binding whose roleRef changed and that was deleted meanwhile is made again": {
			stored:       []client.Object{jm, account, olderInstall, oldRole},
			refuse:       refusal{op: "delete RoleBinding flink-ha", err: gone, meanwhile: true},
			wantAccounts: []string{"flink-ha"}, wantBindings: []string{"flink-ha"},
		},
		"a replaced binding that cannot be made again is returned, and the older install's Role stays": {
			stored: []client.Object{jm, account, olderInstall, oldRole}, refuse: refusal{op: "create RoleBinding flink-ha", err: down},
			wantErr:      "ensuring RoleBinding team/flink-ha: the API server is down",
			wantAccounts: []string{"flink-ha"}, wantRoles: []string{"flink-ha"},
		},
		"the older install's Role that cannot be read is returned": {
			stored: []client.Object{jm, account, olderInstall, oldRole}, refuse: refusal{op: "get Role flink-ha", err: down},
			wantErr:      "ensuring RoleBinding team/flink-ha: reading the Role team/flink-ha an older install made: the API server is down",
			wantAccounts: []string{"flink-ha"}, wantBindings: []string{"flink-ha"}, wantRoles: []string{"flink-ha"},
		},
		"the older install's Role that cannot be removed is returned": {
			stored: []client.Object{jm, account, olderInstall, oldRole}, refuse: refusal{op: "delete Role flink-ha", err: down},
			wantErr:      "ensuring RoleBinding team/flink-ha: removing the Role team/flink-ha an older install made: the API server is down",
			wantAccounts: []string{"flink-ha"}, wantBindings: []string{"flink-ha"}, wantRoles: []string{"flink-ha"},
		},
		"the older install's Role removed meanwhile is no error": {
			stored:       []client.Object{jm, account, olderInstall, oldRole},
			refuse:       refusal{op: "delete Role flink-ha", err: gone, meanwhile: true},
			wantAccounts: []string{"flink-ha"}, wantBindings: []string{"flink-ha"},
		},
		"bindings that cannot be listed are returned, and the former account stays": {
			stored: []client.Object{jm, account, standalone, formerAccount, formerBinding}, refuse: refusal{op: "list RoleBindingList", err: down},
			wantErr:      "listing the RoleBindings made in team: the API server is down",
			wantAccounts: []string{"flink-ha", "old"}, wantBindings: []string{"flink-ha", "old"},
		},
		"a former account's binding that cannot be removed is returned, and the account stays": {
			stored: []client.Object{jm, account, standalone, formerAccount, formerBinding}, refuse: refusal{op: "delete RoleBinding old", err: down},
			wantErr:      "removing RoleBinding team/old of an account the namespace's policy no longer names: the API server is down",
			wantAccounts: []string{"flink-ha", "old"}, wantBindings: []string{"flink-ha", "old"},
		},
		"a former account's binding removed meanwhile is no error, and the account goes": {
			stored:       []client.Object{jm, account, standalone, formerAccount, formerBinding},
			refuse:       refusal{op: "delete RoleBinding old", err: gone, meanwhile: true},
			wantAccounts: []string{"flink-ha"}, wantBindings: []string{"flink-ha"},
		},
		"accounts that cannot be listed are returned": {
			stored: []client.Object{jm, account, standalone, formerAccount, formerBinding}, refuse: refusal{op: "list ServiceAccountList", err: down},
			wantErr:      "listing the ServiceAccounts made in team: the API server is down",
			wantAccounts: []string{"flink-ha", "old"}, wantBindings: []string{"flink-ha"},
		},
		"a former account that cannot be removed is returned": {
			stored: []client.Object{jm, account, standalone, formerAccount, formerBinding}, refuse: refusal{op: "delete ServiceAccount old", err: down},
			wantErr:      "removing ServiceAccount team/old the namespace's policy no longer names: the API server is down",
			wantAccounts: []string{"flink-ha", "old"}, wantBindings: []string{"flink-ha"},
		},
		"a former account removed meanwhile is no error": {
			stored:       []client.Object{jm, account, standalone, formerAccount, formerBinding},
			refuse:       refusal{op: "delete ServiceAccount old", err: apierrors.NewNotFound(schema.GroupResource{Resource: "serviceaccounts"}, "old"), meanwhile: true},
			wantAccounts: []string{"flink-ha"}, wantBindings: []string{"flink-ha"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := testScheme(t)
			stored := fake.NewClientBuilder().WithScheme(s).WithObjects(copies(tc.stored)...).Build()
			c := interceptor.NewClient(stored, refusing(t, s, tc.refuse))
			r := &Reconciler{Client: c, Reader: c, Policy: file, ClusterRolePrefix: DefaultClusterRolePrefix,
				PolicyFor: func(context.Context, string) (*policy.Policy, error) { return file, tc.policyErr }}
			var err error
			if tc.ensure {
				err = r.Ensure(context.Background(), "team")
			} else {
				err = r.Reconcile(context.Background(), "team")
			}
			if tc.wantErr == "" {
				require.NoError(t, err)
			} else {
				require.EqualError(t, err, tc.wantErr)
			}
			accounts, bindings, roles := names(t, stored)
			assert.Equal(t, tc.wantAccounts, accounts, "accounts")
			assert.Equal(t, tc.wantBindings, bindings, "bindings")
			assert.Equal(t, tc.wantRoles, roles, "Roles")
		})
	}
}

// names returns the names of the accounts, RoleBindings and Roles stored.
func names(t *testing.T, c client.Client) (accounts, bindings, roles []string) {
	t.Helper()
	var sas corev1.ServiceAccountList
	require.NoError(t, c.List(context.Background(), &sas))
	for _, o := range sas.Items {
		accounts = append(accounts, o.Name)
	}
	var rbs rbacv1.RoleBindingList
	require.NoError(t, c.List(context.Background(), &rbs))
	for _, o := range rbs.Items {
		bindings = append(bindings, o.Name)
	}
	var rs rbacv1.RoleList
	require.NoError(t, c.List(context.Background(), &rs))
	for _, o := range rs.Items {
		roles = append(roles, o.Name)
	}
	return accounts, bindings, roles
}

// copies returns copies of objs for one fake client, which writes
// versions into the objects it stores.
func copies(objs []client.Object) []client.Object {
	out := make([]client.Object, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.DeepCopyObject().(client.Object))
	}
	return out
}

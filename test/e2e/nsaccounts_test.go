package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/flink-ha-webhook/flink-ha-webhook/rights"
)

// TestNamespacePolicyAccountIsMadeAndBound puts a namespace under a
// FlinkHAPolicy naming team-flink (the policy file names flink-ha): a
// JobManager applied with kubectl gets team-flink, which exists, is bound
// to standalone Flink's rights and renews leadership by JSON merge PATCH,
// impersonated through the real authorizer. When the policy names another
// account, the binding moves to it once the cluster runs under it, and
// team-flink loses its rights; until then the running cluster keeps them.
// When the policy is deleted, the policy file's account takes over.
func TestNamespacePolicyAccountIsMadeAndBound(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	flinkRoles(t)
	ns := plane.Namespace(t)
	_, err := plane.Clientset.CoreV1().Namespaces().Patch(ctx, ns, types.MergePatchType,
		[]byte(`{"metadata":{"labels":{"flink-accounts-test":"`+ns+`"}}}`), metav1.PatchOptions{})
	require.NoError(t, err)
	name := "e2e-accounts-" + ns
	policyNaming := func(account string) string {
		return `apiVersion: flink-ha-webhook.io/v1alpha1
kind: FlinkHAPolicy
metadata: {name: ` + name + `}
spec:
  namespaceSelector: {matchLabels: {flink-accounts-test: ` + ns + `}}
  serviceAccount: ` + account + `
`
	}
	t.Cleanup(func() {
		_, _, _ = plane.Kubectl(context.Background(), "", "delete", "flinkhapolicies", name, "--ignore-not-found")
	})
	_, errOut, err := plane.Kubectl(ctx, policyNaming("team-flink"), "apply", "-f", "-")
	require.NoError(t, err, errOut)

	// runsUnder (re)applies the session cluster until the webhook's cache
	// has the policy, and returns the JobManager's account.
	runsUnder := func(account string) {
		require.Eventually(t, func() bool {
			_, _, _ = kubectlIn(ctx, ns, "", "delete", "deployments", "--all", "--wait")
			_, errOut, err := kubectlIn(ctx, ns, example(t, "standalone-session"), "apply", "-f", "-")
			require.NoError(t, err, errOut)
			d, err := plane.Clientset.AppsV1().Deployments(ns).Get(ctx, "flink-jobmanager", metav1.GetOptions{})
			require.NoError(t, err)
			return d.Spec.Template.Spec.ServiceAccountName == account
		}, 20*time.Second, 300*time.Millisecond, "the JobManager should run under %s", account)
	}
	// bound waits until account exists, bound (only) to standalone Flink's
	// rights under its own name.
	bound := func(account string) {
		require.Eventually(t, func() bool {
			_, errSA := plane.Clientset.CoreV1().ServiceAccounts(ns).Get(ctx, account, metav1.GetOptions{})
			_, errRB := plane.Clientset.RbacV1().RoleBindings(ns).Get(ctx, account, metav1.GetOptions{})
			return errSA == nil && errRB == nil
		}, 30*time.Second, 100*time.Millisecond, "%s and its binding should appear: %s", account, server.Logs)
		rb, err := plane.Clientset.RbacV1().RoleBindings(ns).Get(ctx, account, metav1.GetOptions{})
		require.NoError(t, err)
		assert.Equal(t, []rbacv1.Subject{{Kind: "ServiceAccount", Name: account, Namespace: ns}}, rb.Subjects)
		assert.Equal(t, rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: rights.ClusterRole("flink-ha-webhook", rights.Standalone)}, rb.RoleRef)
	}
	gone := func(account string) bool {
		_, errSA := plane.Clientset.CoreV1().ServiceAccounts(ns).Get(ctx, account, metav1.GetOptions{})
		_, errRB := plane.Clientset.RbacV1().RoleBindings(ns).Get(ctx, account, metav1.GetOptions{})
		return apierrors.IsNotFound(errSA) && apierrors.IsNotFound(errRB)
	}
	// leads acquires an HA ConfigMap as account and renews it by PATCH as
	// Flink 1.18+ does.
	leads := func(account, configMap string) {
		jm := jobManager{client: as(t, ns, account), ns: ns, name: configMap}
		require.Eventually(t, func() bool { return jm.acquire(ctx) == nil }, 10*time.Second, 100*time.Millisecond,
			"%s may create its leader ConfigMap", account)
		for i := 1; i <= 5; i++ {
			require.NoError(t, jm.renewByPatch(ctx, i), "renewal %d by PATCH as %s", i, account)
		}
	}

	runsUnder("team-flink")
	bound("team-flink")
	assert.True(t, gone("flink-ha"), "the policy file's account is not made where the namespace's policy names another")
	leads("team-flink", "orders-cluster-config-map")

	_, errOut, err = plane.Kubectl(ctx, policyNaming("team-flink-v2"), "apply", "-f", "-")
	require.NoError(t, err, errOut)
	assert.Never(t, func() bool { return gone("team-flink") }, 3*time.Second, 200*time.Millisecond,
		"the running cluster keeps its account while it runs under it")

	runsUnder("team-flink-v2")
	bound("team-flink-v2")
	require.Eventually(t, func() bool { return gone("team-flink") }, 30*time.Second, 100*time.Millisecond,
		"the former account and its binding go once nothing runs under it: %s", server.Logs)
	leads("team-flink-v2", "billing-cluster-config-map")
	err = jobManager{client: as(t, ns, "team-flink"), ns: ns, name: "billing-cluster-config-map"}.renewByPatch(ctx, 9)
	assert.True(t, apierrors.IsForbidden(err), "the former account holds no rights: %v", err)

	// Without the FlinkHAPolicy the policy file's account applies again.
	_, errOut, err = plane.Kubectl(ctx, "", "delete", "flinkhapolicies", name)
	require.NoError(t, err, errOut)
	runsUnder("flink-ha")
	bound("flink-ha")
	require.Eventually(t, func() bool { return gone("team-flink-v2") }, 30*time.Second, 100*time.Millisecond,
		"the deleted policy's account goes once nothing runs under it: %s", server.Logs)
}

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flink-ha-webhook/flink-ha-webhook/accounts"
)

// allowed asks the API server's authorizer whether the account may do verb
// on resource in namespace.
func allowed(ctx context.Context, t *testing.T, account, namespace, verb, resource string) bool {
	review, err := plane.Clientset.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   account,
			Groups: []string{"system:serviceaccounts", "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: namespace, Verb: verb, Resource: resource,
			},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	return review.Status.Allowed
}

func TestFlinkGetsAnAccountThatMayDoExactlyWhatHANeeds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns := plane.Namespace(t)
	other := plane.Namespace(t)

	_, _, err := kubectlIn(ctx, ns, example(t, "standalone-session"), "apply", "-f", "-")
	require.NoError(t, err)

	core, rbac := plane.Clientset.CoreV1(), plane.Clientset.RbacV1()
	require.Eventually(t, func() bool {
		_, errSA := core.ServiceAccounts(ns).Get(ctx, "flink-ha", metav1.GetOptions{})
		_, errRole := rbac.Roles(ns).Get(ctx, "flink-ha", metav1.GetOptions{})
		_, errRB := rbac.RoleBindings(ns).Get(ctx, "flink-ha", metav1.GetOptions{})
		return errSA == nil && errRole == nil && errRB == nil
	}, 30*time.Second, 100*time.Millisecond, "the account, Role and RoleBinding should appear: %s", server.Logs)
	role, err := rbac.Roles(ns).Get(ctx, "flink-ha", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, accounts.Rules, role.Rules)

	account := fmt.Sprintf("system:serviceaccount:%s:flink-ha", ns)
	for _, verb := range []string{"get", "list", "watch", "create", "update", "delete"} {
		assert.True(t, allowed(ctx, t, account, ns, verb, "configmaps"), "Flink HA needs to %s ConfigMaps", verb)
	}
	for _, denied := range []struct{ namespace, verb, resource string }{
		{ns, "patch", "configmaps"}, {ns, "deletecollection", "configmaps"}, {ns, "create", "pods"},
		{ns, "get", "secrets"}, {ns, "create", "leases"}, {other, "get", "configmaps"},
	} {
		assert.False(t, allowed(ctx, t, account, denied.namespace, denied.verb, denied.resource),
			"the account must not %s %s in %s", denied.verb, denied.resource, denied.namespace)
	}

	// Deleted by somebody, made again.
	require.NoError(t, core.ServiceAccounts(ns).Delete(ctx, "flink-ha", metav1.DeleteOptions{}))
	require.Eventually(t, func() bool {
		_, err := core.ServiceAccounts(ns).Get(ctx, "flink-ha", metav1.GetOptions{})
		return err == nil
	}, 30*time.Second, 100*time.Millisecond, "a deleted account should be made again")
}

func TestDryRunCreatesNoAccount(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := plane.Namespace(t)
	out, _, err := kubectlIn(ctx, ns, example(t, "standalone-session"), "apply", "--dry-run=server", "-o", "yaml", "-f", "-")
	require.NoError(t, err)
	assert.Contains(t, out, "serviceAccountName: flink-ha", "the dry run shows the account")
	assert.Never(t, func() bool {
		_, err := plane.Clientset.CoreV1().ServiceAccounts(ns).Get(ctx, "flink-ha", metav1.GetOptions{})
		return !apierrors.IsNotFound(err)
	}, 3*time.Second, 200*time.Millisecond, "a dry run must create nothing")
}

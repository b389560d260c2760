package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flink-ha-webhook/flink-ha-webhook/accounts"
)

// TestChosenAccountsAreCheckedWithTheAuthorizer applies JobManagers under
// accounts of the user's choosing: one the API server's authorizer allows
// nothing, which draws a warning naming every missing right, and one bound
// to exactly Flink's HA rights, which draws none.
func TestChosenAccountsAreCheckedWithTheAuthorizer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := plane.Namespace(t)
	rbac := plane.Clientset.RbacV1()
	_, err := plane.Clientset.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "bound"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = rbac.Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "flink"}, Rules: accounts.Rules}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = rbac.RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "flink"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "bound", Namespace: ns}},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "flink"},
	}, metav1.CreateOptions{})
	require.NoError(t, err)

	jobManager := func(name, account string) string {
		return strings.NewReplacer("NAME", name, "ACCOUNT", account).Replace(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: NAME
spec:
  selector: {matchLabels: {app: NAME, component: jobmanager}}
  template:
    metadata:
      labels: {app: NAME, component: jobmanager}
    spec:
      serviceAccountName: ACCOUNT
      containers:
      - {name: jobmanager, image: "flink:1.20", args: [jobmanager]}
`)
	}
	_, errOut, err := kubectlIn(ctx, ns, jobManager("unbound", "nobody"), "apply", "-f", "-")
	require.NoError(t, err, "the default policy only warns")
	assert.Contains(t, errOut, `Warning: spec.template.spec.serviceAccountName: Invalid value: "nobody": `+
		`may not get configmaps, list configmaps, watch configmaps, create configmaps, update configmaps, delete configmaps in `+ns+
		`, which Flink's HA needs: bind it to a Role that allows it, or leave the account to the webhook (flink-ha)`)

	_, errOut, err = kubectlIn(ctx, ns, jobManager("bound", "bound"), "apply", "-f", "-")
	require.NoError(t, err)
	assert.NotContains(t, errOut, "serviceAccountName", "an account with Flink's HA rights passes the check")
}

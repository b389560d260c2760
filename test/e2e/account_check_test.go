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

	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
	"github.com/flink-ha-webhook/flink-ha-webhook/handler"
	"github.com/flink-ha-webhook/flink-ha-webhook/rights"
)

// TestChosenAccountsAreCheckedWithTheAuthorizer applies JobManagers under
// accounts of the user's choosing: one the API server's authorizer allows
// nothing, and one bound to exactly Flink's rights. The first review of an
// account is never held up by the check: it says the answer is coming; a
// later one names every missing right of Flink 1.20 (the image's release
// line), or nothing.
func TestChosenAccountsAreCheckedWithTheAuthorizer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := plane.Namespace(t)
	rbac := plane.Clientset.RbacV1()
	_, err := plane.Clientset.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "bound"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = rbac.Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "flink"},
		Rules: rights.Rules(rights.Standalone, flinkconf.Exactly(flinkconf.V1_20))}, metav1.CreateOptions{})
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
	const field = "Warning: spec.template.spec.serviceAccountName: "
	_, errOut, err := kubectlIn(ctx, ns, jobManager("unbound", "nobody"), "apply", "-f", "-")
	require.NoError(t, err, "the default policy only warns")
	assert.Contains(t, errOut, field+"could not check the rights of account nobody: "+handler.ErrNotChecked.Error(),
		"the first review does not wait for the authorizer")

	// A server-side dry run is reviewed like a change: the answer arrives.
	lacks := field + `Invalid value: "nobody": may not get configmaps, list configmaps, watch configmaps, create configmaps, ` +
		`update configmaps, patch configmaps, delete configmaps, deletecollection configmaps in ` + ns +
		`, which Flink's HA needs: bind it to a Role that allows it, or leave the account to the webhook (flink-ha)`
	require.Eventually(t, func() bool {
		_, errOut, err = kubectlIn(ctx, ns, jobManager("unbound", "nobody"), "apply", "--dry-run=server", "-f", "-")
		return err == nil && strings.Contains(errOut, lacks)
	}, 20*time.Second, 200*time.Millisecond, "the check's answer should reach a later review: %s", errOut)

	_, errOut, err = kubectlIn(ctx, ns, jobManager("bound", "bound"), "apply", "-f", "-")
	require.NoError(t, err)
	assert.Contains(t, errOut, field+"could not check the rights of account bound: ")
	require.Eventually(t, func() bool {
		_, errOut, err = kubectlIn(ctx, ns, jobManager("bound", "bound"), "apply", "--dry-run=server", "-f", "-")
		return err == nil && !strings.Contains(errOut, "serviceAccountName")
	}, 20*time.Second, 200*time.Millisecond, "an account with Flink 1.20's rights passes the check: %s", errOut)
}

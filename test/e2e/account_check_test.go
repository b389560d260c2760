package e2e

import (
	"context"
	"slices"
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
// account waits briefly for the authorizer, so the first apply names every
// missing right of Flink 1.20 (the image's release line), or nothing.
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
	// The authorizer learns of the binding from its own watch: the webhook's
	// first question must not race it.
	require.Eventually(t, func() bool {
		return allowed(ctx, t, "system:serviceaccount:"+ns+":bound", ns, "patch", "configmaps")
	}, 20*time.Second, 100*time.Millisecond, "the authorizer should allow the bound account its Role")

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
	accountWarnings := func(errOut string) []string {
		var ws []string
		for _, line := range strings.Split(errOut, "\n") {
			if strings.HasPrefix(line, field) {
				ws = append(ws, line)
			}
		}
		return ws
	}
	checked := func(name, account string) []string {
		_, errOut, err := kubectlIn(ctx, ns, jobManager(name, account), "apply", "-f", "-")
		require.NoError(t, err, "the default policy only warns")
		got := accountWarnings(errOut)
		notYet := []string{field + "could not check the rights of account " + account + ": " + handler.ErrNotChecked.Error()}
		if !slices.Equal(got, notYet) {
			return got
		}
		// The authorizer was slower than the review's wait, which a busy
		// machine allows: the question went on, and a later review gets
		// the answer. An unchanged apply reaches no webhook, so the later
		// review is a server-side dry run of a new object.
		t.Logf("the authorizer answered %s after the first review's wait; asking a later review", account)
		require.Eventually(t, func() bool {
			_, errOut, err = kubectlIn(ctx, ns, jobManager(name+"-later", account), "apply", "--dry-run=server", "-f", "-")
			got = accountWarnings(errOut)
			return err == nil && !slices.Equal(got, notYet)
		}, 20*time.Second, 200*time.Millisecond, "the check's answer should reach a later review")
		return got
	}

	assert.Equal(t, []string{field + `Invalid value: "nobody": may not get configmaps, list configmaps, watch configmaps, create configmaps, ` +
		`update configmaps, patch configmaps, delete configmaps in ` + ns +
		`, which Flink's HA needs: bind it to a Role that allows it, or leave the account to the webhook (flink-ha)`},
		checked("unbound", "nobody"), "an account the authorizer allows nothing lacks every right")
	assert.Empty(t, checked("bound", "bound"), "an account with Flink 1.20's rights passes the check, without 1.18's deletecollection")
}

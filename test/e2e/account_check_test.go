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
	"k8s.io/apimachinery/pkg/types"

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
	_, err := plane.Clientset.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "bound"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	bindRole(ctx, t, ns, "bound", rights.Rules(rights.Standalone, flinkconf.Exactly(flinkconf.V1_20)))
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

	// The JobManager reads the image's own configuration, so HA is held
	// back for it (TestStandaloneHAWaitsForItsAccounts).
	assert.Equal(t, []string{
		field + `HA not turned on: account nobody lacks what HA needs on configmaps`,
		field + `Invalid value: "nobody": may not get configmaps, list configmaps, watch configmaps, create configmaps, ` +
			`update configmaps, patch configmaps, delete configmaps in ` + ns +
			`, which the JobManager needs with Flink's HA, so HA is not turned on: bind it to a Role that allows it, ` +
			`or leave the account to the webhook (flink-ha); the next change of this Deployment turns it on`},
		checked("unbound", "nobody"), "an account the authorizer allows nothing lacks every right")
	assert.Empty(t, checked("bound", "bound"), "an account with Flink 1.20's rights passes the check, without 1.18's deletecollection")

	// A native JobManager on the host network also updates its Service at
	// start: an account with every other right of a native cluster is told
	// of the Service, and passes once bound to it.
	_, err = plane.Clientset.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "native"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	bindRole(ctx, t, ns, "native", rights.Rules(rights.Native, flinkconf.Exactly(flinkconf.V1_20)))
	require.Eventually(t, func() bool {
		return allowed(ctx, t, "system:serviceaccount:"+ns+":native", ns, "create", "pods")
	}, 20*time.Second, 100*time.Millisecond, "the authorizer should allow the native account its Role")
	hostJM := func(name string) string {
		return strings.NewReplacer("NAME", name).Replace(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: NAME
  labels: {app: NAME, type: flink-native-kubernetes, component: jobmanager}
spec:
  replicas: 0
  selector: {matchLabels: {app: NAME, component: jobmanager, type: flink-native-kubernetes}}
  template:
    metadata:
      labels: {app: NAME, component: jobmanager, type: flink-native-kubernetes}
    spec:
      hostNetwork: true
      serviceAccountName: native
      containers:
      - name: flink-main-container
        image: "flink:1.20"
        command: [/docker-entrypoint.sh]
        args: [bash, -c, kubernetes-jobmanager.sh kubernetes-session]
`)
	}
	onHost := func(name string) []string {
		_, errOut, err := kubectlIn(ctx, ns, hostJM(name), "apply", "--dry-run=server", "-f", "-")
		require.NoError(t, err, "the default policy only warns")
		return accountWarnings(errOut)
	}
	notYet := []string{field + "could not check the rights of account native: " + handler.ErrNotChecked.Error()}
	var got []string
	require.Eventually(t, func() bool {
		got = onHost("on-host")
		return !slices.Equal(got, notYet)
	}, 20*time.Second, 200*time.Millisecond, "the check's answer should reach a review")
	assert.Equal(t, []string{field + `Invalid value: "native": may not get services, update services in ` + ns +
		`, which the JobManager needs with Flink's HA: bind it to a Role that allows it, or leave the account to the webhook (flink-ha), ` +
		`whose Services rights on the host network you grant yourself`},
		got, "a native JobManager on the host network needs its Service")
	bindRole(ctx, t, ns, "native-service", []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"services"}, Verbs: []string{"get", "update"}}})
	_, err = plane.Clientset.RbacV1().RoleBindings(ns).Patch(ctx, "native-service", types.JSONPatchType,
		[]byte(`[{"op":"replace","path":"/subjects/0/name","value":"native"}]`), metav1.PatchOptions{})
	require.NoError(t, err)
	// The webhook keeps an answer for 30 s before asking again.
	assert.Eventually(t, func() bool { return len(onHost("on-host-bound")) == 0 }, 45*time.Second, time.Second,
		"an account bound to its Service passes")
}

// TestJobManagerKeyOfAFlinkDeploymentIsChecked: a FlinkDeployment whose
// kubernetes.jobmanager.service-account names an account without Flink's
// rights runs its JobManager under that account whatever spec.serviceAccount
// says, so under checkAccounts: enforce it is refused on that key, and
// admitted once the account is bound to a native cluster's rights. Dry runs
// store nothing, so each attempt is a new review.
func TestJobManagerKeyOfAFlinkDeploymentIsChecked(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns := plane.Namespace(t)
	_, err := plane.Clientset.CoreV1().Namespaces().Patch(ctx, ns, types.MergePatchType,
		[]byte(`{"metadata":{"labels":{"flink-role-accounts":"enforce"}}}`), metav1.PatchOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _, _ = plane.Kubectl(context.Background(), "", "delete", "flinkhapolicies", "e2e-role-accounts", "--ignore-not-found")
	})
	_, _, err = plane.Kubectl(ctx, `apiVersion: flink-ha-webhook.io/v1alpha1
kind: FlinkHAPolicy
metadata: {name: e2e-role-accounts}
spec:
  namespaceSelector: {matchLabels: {flink-role-accounts: enforce}}
  checkAccounts: enforce
`, "apply", "-f", "-")
	require.NoError(t, err)
	_, err = plane.Clientset.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "leader"}}, metav1.CreateOptions{})
	require.NoError(t, err)

	const fd = `apiVersion: flink.apache.org/v1beta1
kind: FlinkDeployment
metadata:
  name: orders
spec:
  image: flink:1.20
  flinkVersion: v1_20
  flinkConfiguration:
    kubernetes.jobmanager.service-account: leader
  jobManager:
    resource: {memory: "2048m", cpu: 1}
  taskManager:
    resource: {memory: "2048m", cpu: 1}
`
	var lacks []string
	for _, a := range rights.Needs(rights.Native, flinkconf.Exactly(flinkconf.V1_20)) {
		lacks = append(lacks, a.Verb+" "+a.Resource)
	}
	refusal := `The FlinkDeployment "orders" is invalid: spec.flinkConfiguration[kubernetes.jobmanager.service-account]: ` +
		`Invalid value: "leader": may not ` + strings.Join(lacks, ", ") + ` in ` + ns + `, which the JobManager needs with Flink's HA: ` +
		`bind it to a Role that allows it, or set the key to the webhook's account (flink-ha), ` +
		`or remove it for the JobManager to run under spec.serviceAccount`
	var errOut string
	// Until the webhook's cache has the namespace's policy, and the
	// authorizer's first answer (a review waits for it only briefly), a
	// review only warns.
	require.Eventually(t, func() bool {
		_, errOut, err = kubectlIn(ctx, ns, fd, "apply", "--dry-run=server", "-f", "-")
		return err != nil
	}, 30*time.Second, 200*time.Millisecond, "the JobManager's account should be refused")
	assert.Equal(t, refusal, lastLine(errOut), "refused on the key, for a native JobManager's rights; the TaskManagers run under flink-ha")

	bindRole(ctx, t, ns, "leader", rights.Rules(rights.Native, flinkconf.Exactly(flinkconf.V1_20)))
	// The webhook keeps an answer and asks again in the background once
	// it is 30 s old: a review after that gets the new one.
	require.Eventually(t, func() bool {
		_, errOut, err = kubectlIn(ctx, ns, fd, "apply", "--dry-run=server", "-f", "-")
		return err == nil
	}, 90*time.Second, time.Second, "the bound account should pass: %s", errOut)
	out, errOut, err := kubectlIn(ctx, ns, fd, "apply", "-f", "-")
	require.NoError(t, err, errOut)
	assert.Equal(t, "flinkdeployment.flink.apache.org/orders created\n", out)
	assert.NotContains(t, errOut, "kubernetes.jobmanager.service-account]: Invalid value", "the bound account lacks nothing")
}

// lastLine is the last line of kubectl's output.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// bindRole binds the account to a Role of its name holding rules.
func bindRole(ctx context.Context, t *testing.T, ns, account string, rules []rbacv1.PolicyRule) {
	t.Helper()
	_, err := plane.Clientset.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: account}, Rules: rules}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = plane.Clientset.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: account},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: account, Namespace: ns}},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: account},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
}

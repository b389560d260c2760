package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
	"github.com/flink-ha-webhook/flink-ha-webhook/rights"
)

// allowed asks the API server's authorizer whether the account may do verb
// on a core resource in namespace.
func allowed(ctx context.Context, t *testing.T, account, namespace, verb, resource string) bool {
	return may(ctx, t, account, namespace, rights.Access{Verb: verb, Resource: resource})
}

// may asks the API server's authorizer whether the account may have access.
func may(ctx context.Context, t *testing.T, account, namespace string, access rights.Access) bool {
	resource, subresource, _ := strings.Cut(access.Resource, "/")
	review, err := plane.Clientset.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   account,
			Groups: []string{"system:serviceaccounts", "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: namespace, Verb: access.Verb, Group: access.Group, Resource: resource, Subresource: subresource,
			},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	return review.Status.Allowed
}

// flinkRoles installs the ClusterRoles of Flink's rights as
// manifests/rbac.yaml ships them (the webhook binds them, never makes
// them), once for the package.
var flinkRolesOnce sync.Once

func flinkRoles(t *testing.T) {
	flinkRolesOnce.Do(func() {
		raw, err := os.ReadFile("../../manifests/rbac.yaml")
		require.NoError(t, err)
		var docs []string
		for _, doc := range strings.Split(string(raw), "\n---\n") {
			if strings.Contains(doc, "name: flink-ha-webhook:flink-") {
				docs = append(docs, doc)
			}
		}
		require.Len(t, docs, 2, "manifests/rbac.yaml holds the standalone and the native ClusterRole")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, _, err := plane.Kubectl(ctx, strings.Join(docs, "\n---\n"), "apply", "-f", "-")
		require.NoError(t, err, out)
	})
}

// boundTo waits until the webhook has bound its account in ns to the
// ClusterRole of mode m.
func boundTo(ctx context.Context, t *testing.T, ns string, m rights.Mode) {
	name := map[rights.Mode]string{rights.Standalone: "flink-ha", rights.Native: "flink-ha-native"}[m]
	require.Eventually(t, func() bool {
		_, errSA := plane.Clientset.CoreV1().ServiceAccounts(ns).Get(ctx, "flink-ha", metav1.GetOptions{})
		rb, errRB := plane.Clientset.RbacV1().RoleBindings(ns).Get(ctx, name, metav1.GetOptions{})
		return errSA == nil && errRB == nil && rb.RoleRef.Name == rights.ClusterRole("flink-ha-webhook", m)
	}, 30*time.Second, 100*time.Millisecond, "the account and its %s binding should appear: %s", m, server.Logs)
}

func TestFlinkGetsAnAccountThatMayDoExactlyWhatHANeeds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	flinkRoles(t)
	ns := plane.Namespace(t)
	other := plane.Namespace(t)

	_, _, err := kubectlIn(ctx, ns, example(t, "standalone-session"), "apply", "-f", "-")
	require.NoError(t, err)
	boundTo(ctx, t, ns, rights.Standalone)
	rb, err := plane.Clientset.RbacV1().RoleBindings(ns).Get(ctx, "flink-ha", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, []rbacv1.Subject{{Kind: "ServiceAccount", Name: "flink-ha", Namespace: ns}}, rb.Subjects)
	_, err = plane.Clientset.RbacV1().RoleBindings(ns).Get(ctx, "flink-ha-native", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "no native cluster runs here: no native rights")

	account := fmt.Sprintf("system:serviceaccount:%s:flink-ha", ns)
	for _, need := range rights.Grants(rights.Standalone, flinkconf.Supported) {
		assert.True(t, may(ctx, t, account, ns, need), "Flink needs to %s", need)
	}
	for _, denied := range []struct{ namespace, verb, resource string }{
		{ns, "create", "pods"}, {ns, "get", "secrets"}, {ns, "create", "leases"}, {other, "get", "configmaps"},
	} {
		assert.False(t, allowed(ctx, t, account, denied.namespace, denied.verb, denied.resource),
			"the account must not %s %s in %s", denied.verb, denied.resource, denied.namespace)
	}

	// Deleted by somebody, made again.
	core := plane.Clientset.CoreV1()
	require.NoError(t, core.ServiceAccounts(ns).Delete(ctx, "flink-ha", metav1.DeleteOptions{}))
	require.Eventually(t, func() bool {
		_, err := core.ServiceAccounts(ns).Get(ctx, "flink-ha", metav1.GetOptions{})
		return err == nil
	}, 30*time.Second, 100*time.Millisecond, "a deleted account should be made again")

	// The binding deleted, or its subjects changed, by somebody with
	// kubectl: made again as it was, without waiting for a workload to
	// change.
	bindings := plane.Clientset.RbacV1().RoleBindings(ns)
	restored := func(why string) {
		t.Helper()
		require.Eventually(t, func() bool {
			rb, err := bindings.Get(ctx, "flink-ha", metav1.GetOptions{})
			return err == nil && assert.ObjectsAreEqual([]rbacv1.Subject{{Kind: "ServiceAccount", Name: "flink-ha", Namespace: ns}}, rb.Subjects)
		}, 30*time.Second, 100*time.Millisecond, why)
	}
	_, _, err = kubectlIn(ctx, ns, "", "delete", "rolebinding", "flink-ha")
	require.NoError(t, err)
	restored("a deleted binding should be made again")
	_, _, err = kubectlIn(ctx, ns, "", "patch", "rolebinding", "flink-ha", "--type=json",
		"-p", `[{"op":"replace","path":"/subjects/0/name","value":"someone-else"}]`)
	require.NoError(t, err)
	restored("a binding whose subject was changed should bind Flink's account again")
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

// TestNativeRightsFollowNativeClusters: the webhook's account is bound to
// native Flink's rights exactly while a native cluster runs under it: not
// for a FlinkDeployment in standalone mode (the operator makes its
// TaskManagers), nor for a Deployment whose type label is another; for
// the JobManager Deployment Flink's own client makes
// (kubernetes-session.sh with -Dkubernetes.service-account=flink-ha),
// which may then read its Deployment and create its TaskManager pods; and
// no longer once that Deployment is gone.
func TestNativeRightsFollowNativeClusters(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	flinkRoles(t)
	ns := plane.Namespace(t)
	// ns is an argument: assert.Never's last check may still run after it
	// returned, while the test moves on to another namespace.
	noNativeBinding := func(ns, why string) {
		t.Helper()
		assert.Never(t, func() bool {
			_, err := plane.Clientset.RbacV1().RoleBindings(ns).Get(ctx, "flink-ha-native", metav1.GetOptions{})
			return !apierrors.IsNotFound(err)
		}, 3*time.Second, 100*time.Millisecond, why)
	}

	out, _, err := kubectlIn(ctx, ns, `apiVersion: flink.apache.org/v1beta1
kind: FlinkDeployment
metadata:
  name: billing
spec:
  image: flink:1.20
  flinkVersion: v1_20
  mode: standalone
  flinkConfiguration:
    taskmanager.numberOfTaskSlots: "2"
  jobManager:
    resource: {memory: "2048m", cpu: 1}
  taskManager:
    resource: {memory: "2048m", cpu: 1}
`, "apply", "-f", "-")
	require.NoError(t, err, out)
	boundTo(ctx, t, ns, rights.Standalone)
	noNativeBinding(ns, "a FlinkDeployment in standalone mode binds no native rights")

	out, _, err = kubectlIn(ctx, ns, `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, type: frontend, component: jobmanager}
spec:
  replicas: 0
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web, type: frontend, component: jobmanager}
    spec:
      serviceAccountName: flink-ha
      containers:
      - {name: web, image: "nginx:1.27"}
`, "apply", "-f", "-")
	require.NoError(t, err, out)
	noNativeBinding(ns, "a Deployment whose type label is not Flink's native one binds no native rights")

	// What kubernetes-session.sh makes under -Dkubernetes.service-account=flink-ha,
	// where no FlinkDeployment runs.
	ns = plane.Namespace(t)
	bindings := plane.Clientset.RbacV1().RoleBindings(ns)
	out, _, err = kubectlIn(ctx, ns, `apiVersion: apps/v1
kind: Deployment
metadata:
  name: sessions
  labels: {app: sessions, type: flink-native-kubernetes, component: jobmanager}
spec:
  replicas: 0
  selector: {matchLabels: {app: sessions, component: jobmanager, type: flink-native-kubernetes}}
  template:
    metadata:
      labels: {app: sessions, component: jobmanager, type: flink-native-kubernetes}
    spec:
      serviceAccountName: flink-ha
      containers:
      - name: flink-main-container
        image: "flink:1.20"
        command: [/docker-entrypoint.sh]
        args: [bash, -c, kubernetes-jobmanager.sh kubernetes-session]
`, "apply", "-f", "-")
	require.NoError(t, err, out)
	boundTo(ctx, t, ns, rights.Native)
	jm := as(t, ns, "flink-ha")
	owner, err := jm.AppsV1().Deployments(ns).Get(ctx, "sessions", metav1.GetOptions{})
	require.NoError(t, err, "the JobManager reads its Deployment to own its pods")
	yes := true
	_, err = jm.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "sessions-taskmanager-1-1", Labels: map[string]string{"app": "sessions", "component": "taskmanager"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: owner.Name, UID: owner.UID, Controller: &yes, BlockOwnerDeletion: &yes}}},
		Spec: corev1.PodSpec{ServiceAccountName: "flink-ha", Containers: []corev1.Container{{Name: "flink-main-container", Image: "flink:1.20", Args: []string{"taskmanager"}}}},
	}, metav1.CreateOptions{})
	require.NoError(t, err, "the JobManager creates its TaskManager pods")
	require.NoError(t, jm.CoreV1().Pods(ns).Delete(ctx, "sessions-taskmanager-1-1", metav1.DeleteOptions{}), "the JobManager stops them")

	_, _, err = kubectlIn(ctx, ns, "", "delete", "deployment", "sessions")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, err := bindings.Get(ctx, "flink-ha-native", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	}, 30*time.Second, 100*time.Millisecond, "the native binding goes with the last native JobManager: %s", server.Logs)
	_, err = jm.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "late"},
		Spec: corev1.PodSpec{ServiceAccountName: "flink-ha", Containers: []corev1.Container{{Name: "c", Image: "flink:1.20"}}}}, metav1.CreateOptions{})
	assert.True(t, apierrors.IsForbidden(err), "without a native cluster the account creates no pods: %v", err)
	_, err = bindings.Get(ctx, "flink-ha", metav1.GetOptions{})
	assert.NoError(t, err, "the standalone binding stays for the clusters still running")
}

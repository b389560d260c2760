package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
	"github.com/flink-ha-webhook/flink-ha-webhook/rights"
)

const leaderKey = "control-plane.alpha.kubernetes.io/leader"

// as returns a clientset that acts as service account name of ns, through
// the API server's real authentication of impersonation and its authorizer.
func as(t *testing.T, ns, name string) kubernetes.Interface {
	cfg := rest.CopyConfig(plane.Config)
	cfg.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + ns + ":" + name,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
	}
	c, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	return c
}

// jobManager is a simulated Flink JobManager's leader elector: it creates
// the cluster's HA ConfigMap and renews its leadership as a release line of
// Flink does.
type jobManager struct {
	client kubernetes.Interface
	ns     string
	name   string
}

func record(i int) string {
	return fmt.Sprintf(`{"holderIdentity":"jm-0","leaseDurationSeconds":15,"acquireTime":"2026-11-24T07:00:00Z","renewTime":"2026-11-24T07:00:%02dZ","leaderTransitions":0}`, i%60)
}

// acquire creates the leader ConfigMap, as fabric8's lock does when there is none.
func (jm jobManager) acquire(ctx context.Context) error {
	_, err := jm.client.CoreV1().ConfigMaps(jm.ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name: jm.name, Annotations: map[string]string{leaderKey: record(0)},
		Labels: map[string]string{"app": "orders", "configmap-type": "high-availability", "type": "flink-native-kubernetes"},
	}}, metav1.CreateOptions{})
	return err
}

// renewByPatch renews as Flink 1.18+ does (fabric8 >= 6.6 ResourceLock):
// GET, then a JSON merge PATCH of the annotation carrying the
// resourceVersion read, so a concurrent writer makes it fail.
func (jm jobManager) renewByPatch(ctx context.Context, i int) error {
	cm, err := jm.client.CoreV1().ConfigMaps(jm.ns).Get(ctx, jm.name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	patch := fmt.Sprintf(`{"metadata":{"resourceVersion":%q,"annotations":{%q:%q}}}`, cm.ResourceVersion, leaderKey, record(i))
	_, err = jm.client.CoreV1().ConfigMaps(jm.ns).Patch(ctx, jm.name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	return err
}

// renewByPut renews as Flink 1.15-1.17 do (fabric8 5.x ConfigMapLock): GET,
// then a PUT of the whole ConfigMap locked to the resourceVersion read.
func (jm jobManager) renewByPut(ctx context.Context, i int) error {
	cm, err := jm.client.CoreV1().ConfigMaps(jm.ns).Get(ctx, jm.name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	cm.Annotations[leaderKey] = record(i)
	_, err = jm.client.CoreV1().ConfigMaps(jm.ns).Update(ctx, cm, metav1.UpdateOptions{})
	return err
}

// TestLeaderElectionUnderTheGivenAccount runs simulated JobManagers under
// the account the webhook gave a JobManager's pods, impersonated through
// the real authorizer: every renewal as Flink 1.18+ (PATCH) and as
// 1.15-1.17 (PUT) succeeds. Under an account bound to the rights of 1.17
// only (no patch), renewals by PATCH are refused: the test can fail.
func TestLeaderElectionUnderTheGivenAccount(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	flinkRoles(t)
	ns := plane.Namespace(t)
	_, _, err := kubectlIn(ctx, ns, example(t, "standalone-session"), "apply", "-f", "-")
	require.NoError(t, err)
	d, err := plane.Clientset.AppsV1().Deployments(ns).Get(ctx, "flink-jobmanager", metav1.GetOptions{})
	require.NoError(t, err)
	account := d.Spec.Template.Spec.ServiceAccountName
	require.Equal(t, "flink-ha", account, "the webhook gives the JobManager its account")
	boundTo(ctx, t, ns, rights.Standalone)

	flink := as(t, ns, account)
	for name, renew := range map[string]func(jobManager, context.Context, int) error{
		"1.18+ by PATCH":   jobManager.renewByPatch,
		"1.15-1.17 by PUT": jobManager.renewByPut,
	} {
		jm := jobManager{client: flink, ns: ns, name: "session-" + strings.Fields(name)[0] + "-cluster-config-map"}
		jm.name = strings.NewReplacer(".", "-", "+", "plus").Replace(jm.name)
		require.NoError(t, jm.acquire(ctx), name)
		for i := 1; i <= 20; i++ {
			require.NoError(t, renew(jm, ctx, i), "renewal %d as Flink %s", i, name)
		}
		cm, err := plane.Clientset.CoreV1().ConfigMaps(ns).Get(ctx, jm.name, metav1.GetOptions{})
		require.NoError(t, err)
		assert.Equal(t, record(20), cm.Annotations[leaderKey], name)
	}
	// Cleanup as Flink does: by label, then by name.
	require.NoError(t, flink.CoreV1().ConfigMaps(ns).DeleteCollection(ctx, metav1.DeleteOptions{},
		metav1.ListOptions{LabelSelector: "app=orders,configmap-type=high-availability"}))

	// The same JobManager under an account with the rights of Flink 1.17.
	_, err = plane.Clientset.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "old-rights"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = plane.Clientset.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "old-rights"},
		Rules: rights.Rules(rights.Standalone, flinkconf.Exactly(flinkconf.V1_17))}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = plane.Clientset.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "old-rights"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "old-rights", Namespace: ns}},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "old-rights"},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	old := jobManager{client: as(t, ns, "old-rights"), ns: ns, name: "legacy-cluster-config-map"}
	require.Eventually(t, func() bool { return old.acquire(ctx) == nil }, 10*time.Second, 100*time.Millisecond, "the binding takes effect")
	require.NoError(t, old.renewByPut(ctx, 1), "1.17's rights renew by PUT")
	err = old.renewByPatch(ctx, 2)
	assert.True(t, apierrors.IsForbidden(err), "without patch a 1.18+ renewal is refused: %v", err)
}

// TestNativeJobManagerUnderTheGivenAccount: a FlinkDeployment gets the
// webhook's account, which then may do what a native JobManager does
// (create, watch and delete its TaskManager pods, read and delete its
// Deployment); when the last FlinkDeployment goes, so do those rights.
func TestNativeJobManagerUnderTheGivenAccount(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	flinkRoles(t)
	ns := plane.Namespace(t)
	_, _, err := kubectlIn(ctx, ns, `apiVersion: flink.apache.org/v1beta1
kind: FlinkDeployment
metadata:
  name: orders
spec:
  image: flink:1.20
  flinkVersion: v1_20
  flinkConfiguration:
    taskmanager.numberOfTaskSlots: "2"
  jobManager:
    resource: {memory: "2048m", cpu: 1}
  taskManager:
    resource: {memory: "2048m", cpu: 1}
`, "apply", "-f", "-")
	require.NoError(t, err)
	dyn, err := dynamic.NewForConfig(plane.Config)
	require.NoError(t, err)
	fd, err := dyn.Resource(flinkDeployments).Namespace(ns).Get(ctx, "orders", metav1.GetOptions{})
	require.NoError(t, err)
	account, _, _ := unstructured.NestedString(fd.Object, "spec", "serviceAccount")
	require.Equal(t, "flink-ha", account, "the webhook gives the FlinkDeployment its account")
	boundTo(ctx, t, ns, rights.Native)

	// What the operator makes: the JobManager's Deployment.
	out, _, err := kubectlIn(ctx, ns, `apiVersion: apps/v1
kind: Deployment
metadata:
  name: orders
  labels: {app: orders, type: flink-native-kubernetes, component: jobmanager}
spec:
  replicas: 0
  selector: {matchLabels: {app: orders, component: jobmanager}}
  template:
    metadata:
      labels: {app: orders, component: jobmanager, type: flink-native-kubernetes}
    spec:
      serviceAccountName: flink-ha
      containers:
      - {name: flink-main-container, image: "flink:1.20", args: [kubernetes-jobmanager.sh, kubernetes-application]}
`, "apply", "-f", "-")
	require.NoError(t, err, out)

	jm := as(t, ns, account)
	w, err := jm.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{LabelSelector: "app=orders,component=taskmanager"})
	require.NoError(t, err, "the JobManager watches its TaskManager pods")
	defer w.Stop()
	owner, err := jm.AppsV1().Deployments(ns).Get(ctx, "orders", metav1.GetOptions{})
	require.NoError(t, err, "the JobManager reads its Deployment to own its pods")
	yes := true
	_, err = jm.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "orders-taskmanager-1-1", Labels: map[string]string{"app": "orders", "component": "taskmanager"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: owner.Name, UID: owner.UID, Controller: &yes, BlockOwnerDeletion: &yes}}},
		Spec: corev1.PodSpec{ServiceAccountName: account, Containers: []corev1.Container{{Name: "flink-main-container", Image: "flink:1.20", Args: []string{"taskmanager"}}}},
	}, metav1.CreateOptions{})
	require.NoError(t, err, "the JobManager creates TaskManager pods")
	select {
	case ev := <-w.ResultChan():
		assert.Equal(t, watch.Added, ev.Type)
	case <-ctx.Done():
		t.Fatal("the watch saw no TaskManager pod")
	}
	pods, err := jm.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=orders,component=taskmanager"})
	require.NoError(t, err)
	assert.Len(t, pods.Items, 1)
	require.NoError(t, jm.CoreV1().Pods(ns).Delete(ctx, "orders-taskmanager-1-1", metav1.DeleteOptions{}), "the JobManager stops TaskManager pods")
	require.NoError(t, jm.AppsV1().Deployments(ns).Delete(ctx, "orders", metav1.DeleteOptions{}), "a finished cluster deletes its Deployment")

	// No FlinkDeployment left: the native rights go, the standalone stay.
	require.NoError(t, dyn.Resource(flinkDeployments).Namespace(ns).Delete(ctx, "orders", metav1.DeleteOptions{}))
	require.Eventually(t, func() bool {
		_, err := plane.Clientset.RbacV1().RoleBindings(ns).Get(ctx, "flink-ha-native", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	}, 30*time.Second, 100*time.Millisecond, "the native binding goes with the last FlinkDeployment: %s", server.Logs)
	_, err = jm.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "late"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "flink:1.20"}}}}, metav1.CreateOptions{})
	assert.True(t, apierrors.IsForbidden(err), "without a FlinkDeployment the account creates no pods: %v", err)
	_, err = jm.CoreV1().ConfigMaps(ns).Create(ctx, newConfigMap("orders-cluster-config-map"), metav1.CreateOptions{})
	assert.NoError(t, err, "its HA rights stay")
}

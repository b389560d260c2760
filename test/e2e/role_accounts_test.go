package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
	"github.com/flink-ha-webhook/flink-ha-webhook/rights"
)

// TestAccountsFollowFlinkDeploymentRoles: a FlinkDeployment's JobManager
// runs under kubernetes.jobmanager.service-account where flinkConfiguration
// sets it, its TaskManagers under spec.serviceAccount otherwise. The
// webhook's account is made and bound for whichever role runs under it,
// native rights only for the JobManager of a native cluster (so admission
// asks nothing about a key naming it): with the
// real authorizer, the account may create pods where the JobManager of a
// native FlinkDeployment runs under it by its key, and may not where only
// the TaskManagers do, though it may still list and watch ConfigMaps as
// they need. Moving the JobManager onto the account, and off again, gives
// and takes the native rights.
func TestAccountsFollowFlinkDeploymentRoles(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	flinkRoles(t)
	flinkDeployment := func(account, jobManagerKey string) string {
		conf := `taskmanager.numberOfTaskSlots: "2"`
		if jobManagerKey != "" {
			conf += "\n    kubernetes.jobmanager.service-account: " + jobManagerKey
		}
		return strings.NewReplacer("ACCOUNT", account, "CONF", conf).Replace(`apiVersion: flink.apache.org/v1beta1
kind: FlinkDeployment
metadata:
  name: billing
spec:
  image: flink:1.20
  flinkVersion: v1_20
  serviceAccount: ACCOUNT
  flinkConfiguration:
    CONF
  jobManager:
    resource: {memory: "2048m", cpu: 1}
  taskManager:
    resource: {memory: "2048m", cpu: 1}
`)
	}
	createsPods := func(ns string) error {
		_, err := as(t, ns, "flink-ha").CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "billing-taskmanager-"},
			Spec: corev1.PodSpec{ServiceAccountName: "flink-ha", Containers: []corev1.Container{{Name: "flink-main-container", Image: "flink:1.20", Args: []string{"taskmanager"}}}}},
			metav1.CreateOptions{})
		return err
	}
	account := func(ns string) string { return "system:serviceaccount:" + ns + ":flink-ha" }

	// The JobManager under the webhook's account by its key, the
	// TaskManagers under another.
	ns := plane.Namespace(t)
	out, errOut, err := kubectlIn(ctx, ns, flinkDeployment("runner", "flink-ha"), "apply", "-f", "-")
	require.NoError(t, err, out)
	assert.NotContains(t, errOut, "kubernetes.jobmanager.service-account]", "a key naming the webhook's account is not asked about: the webhook binds it")
	boundTo(ctx, t, ns, rights.Native)
	boundTo(ctx, t, ns, rights.Standalone)
	require.Eventually(t, func() bool { return allowed(ctx, t, account(ns), ns, "create", "pods") },
		20*time.Second, 100*time.Millisecond, "the authorizer should allow the native JobManager's account to create pods")
	require.NoError(t, createsPods(ns), "the native JobManager creates its TaskManager pods")
	_, err = plane.Clientset.CoreV1().ServiceAccounts(ns).Get(ctx, "runner", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "an account the policy does not name is not made: %v", err)

	// The TaskManagers under the webhook's account, the JobManager under
	// another by its key.
	ns = plane.Namespace(t)
	out, _, err = kubectlIn(ctx, ns, flinkDeployment("flink-ha", "leader"), "apply", "-f", "-")
	require.NoError(t, err, out)
	boundTo(ctx, t, ns, rights.Standalone)
	noNative := func(ns string) bool {
		_, err := plane.Clientset.RbacV1().RoleBindings(ns).Get(ctx, "flink-ha-native", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	}
	// ns is an argument: assert.Never's last check may still run after it
	// returned.
	assert.Never(t, func() bool { return !noNative(ns) }, 3*time.Second, 100*time.Millisecond,
		"only TaskManagers run under the account: no native rights")
	for _, need := range rights.TaskManagerNeeds(flinkconf.Exactly(flinkconf.V1_20)) {
		assert.True(t, may(ctx, t, account(ns), ns, need), "the TaskManagers need to %s", need)
	}
	assert.False(t, allowed(ctx, t, account(ns), ns, "create", "pods"), "the TaskManagers' account must not create pods")
	err = createsPods(ns)
	assert.True(t, apierrors.IsForbidden(err), "the TaskManagers' account creates no pods: %v", err)

	// The JobManager's key removed: it runs under spec.serviceAccount, the
	// webhook's account, which gets native rights; set again, it loses them.
	out, _, err = kubectlIn(ctx, ns, flinkDeployment("flink-ha", ""), "apply", "-f", "-")
	require.NoError(t, err, out)
	boundTo(ctx, t, ns, rights.Native)
	out, _, err = kubectlIn(ctx, ns, flinkDeployment("flink-ha", "leader"), "apply", "-f", "-")
	require.NoError(t, err, out)
	require.Eventually(t, func() bool { return noNative(ns) }, 30*time.Second, 100*time.Millisecond,
		"the native binding goes once the JobManager runs under another account: %s", server.Logs)
	_, err = plane.Clientset.RbacV1().RoleBindings(ns).Get(ctx, "flink-ha", metav1.GetOptions{})
	assert.NoError(t, err, "the standalone binding stays for the TaskManagers")
}

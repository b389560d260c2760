package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestPodsKeepTheDefaultAccountsPullSecrets: where the webhook moves Flink
// pods from the namespace's default account to its own, the pods still get
// the image pull secrets the default account gives every pod of the
// namespace (the API server's ServiceAccount admission copies an account's
// imagePullSecrets into its pods), so a private image still pulls, also
// after a secret is added to default.
func TestPodsKeepTheDefaultAccountsPullSecrets(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	flinkRoles(t)
	ns := plane.Namespace(t)
	core := plane.Clientset.CoreV1()
	// The controller manager makes the default account of a new namespace.
	require.Eventually(t, func() bool {
		_, err := core.ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil
	}, 30*time.Second, 100*time.Millisecond)
	_, err := core.ServiceAccounts(ns).Patch(ctx, "default", types.MergePatchType,
		[]byte(`{"imagePullSecrets":[{"name":"registry"}]}`), metav1.PatchOptions{})
	require.NoError(t, err)

	_, _, err = kubectlIn(ctx, ns, example(t, "standalone-session"), "apply", "-f", "-")
	require.NoError(t, err)
	var pods []corev1.Pod
	require.Eventually(t, func() bool {
		list, err := core.Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "component=jobmanager"})
		pods = list.Items
		return err == nil && len(pods) > 0
	}, time.Minute, 200*time.Millisecond, "the JobManager's pods should be made: %s", server.Logs)
	for _, pod := range pods {
		require.Equal(t, "flink-ha", pod.Spec.ServiceAccountName)
		require.Equal(t, []corev1.LocalObjectReference{{Name: "registry"}}, pod.Spec.ImagePullSecrets, pod.Name)
	}

	// A secret added to default later reaches Flink's account without a
	// change of any Flink object: the reconciler watches default accounts.
	// The reconciles the apply set off end first, so that nothing else
	// brings the secret.
	time.Sleep(5 * time.Second)
	_, err = core.ServiceAccounts(ns).Patch(ctx, "default", types.MergePatchType,
		[]byte(`{"imagePullSecrets":[{"name":"registry"},{"name":"mirror"}]}`), metav1.PatchOptions{})
	require.NoError(t, err)
	var got []corev1.LocalObjectReference
	require.Eventually(t, func() bool {
		sa, err := core.ServiceAccounts(ns).Get(ctx, "flink-ha", metav1.GetOptions{})
		if err != nil {
			return false
		}
		got = sa.ImagePullSecrets
		return len(got) == 2
	}, 30*time.Second, 100*time.Millisecond, "Flink's account should get the secret added to default")
	require.Equal(t, []corev1.LocalObjectReference{{Name: "registry"}, {Name: "mirror"}}, got)
}

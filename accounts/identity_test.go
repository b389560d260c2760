package accounts

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// TestDefaultAccounts: of the default accounts it watches (the API
// server selects them by name; the e2e tests use the real one), it keeps
// only the identity annotations and the image pull secrets, and names the
// first identity annotation an account carries.
func TestDefaultAccounts(t *testing.T) {
	t.Parallel()
	account := func(ns string, annotations map[string]string) *corev1.ServiceAccount {
		return &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns, Annotations: annotations}}
	}
	withPullSecret := func(sa *corev1.ServiceAccount) *corev1.ServiceAccount {
		sa.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "registry"}}
		sa.Secrets = []corev1.ObjectReference{{Name: "token"}}
		return sa
	}
	cs := fake.NewClientset(
		withPullSecret(account("aws", map[string]string{"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/flink", "kubectl.kubernetes.io/last-applied-configuration": "{}"})),
		account("gcp", map[string]string{"iam.gke.io/gcp-service-account": "flink@p.iam.gserviceaccount.com"}),
		account("azure", map[string]string{"azure.workload.identity/client-id": "00000000-0000-0000-0000-000000000000"}),
		account("plain", map[string]string{"team": "a"}),
		account("empty", map[string]string{"eks.amazonaws.com/role-arn": ""}),
	)
	d := newDefaultAccounts(cs.CoreV1().ServiceAccounts(""), cs)
	assert.Empty(t, d.Identity("aws"), "nothing is known before the watch has listed the accounts")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = d.Start(ctx) }()
	waitCtx, stop := context.WithTimeout(ctx, 10*time.Second)
	defer stop()
	require.True(t, d.WaitForSync(waitCtx))
	for ns, want := range map[string]string{
		"aws": "eks.amazonaws.com/role-arn", "gcp": "iam.gke.io/gcp-service-account", "azure": "azure.workload.identity/client-id",
		"plain": "", "empty": "", "missing": "",
	} {
		assert.Equal(t, want, d.Identity(ns), ns)
	}
	o, ok, err := d.informer.GetIndexer().GetByKey("aws/default")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "aws",
		Annotations: map[string]string{"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/flink"}},
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "registry"}}}, o, "only the identity and the pull secrets are kept")
}

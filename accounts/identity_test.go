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

// TestDefaultIdentities: of the default accounts it watches (the API
// server selects them by name; the e2e tests use the real one), it keeps
// only the identity annotations, and names the first of them an account
// carries.
func TestDefaultIdentities(t *testing.T) {
	t.Parallel()
	account := func(ns string, annotations map[string]string) *corev1.ServiceAccount {
		return &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns, Annotations: annotations}}
	}
	cs := fake.NewClientset(
		account("aws", map[string]string{"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/flink", "kubectl.kubernetes.io/last-applied-configuration": "{}"}),
		account("gcp", map[string]string{"iam.gke.io/gcp-service-account": "flink@p.iam.gserviceaccount.com"}),
		account("azure", map[string]string{"azure.workload.identity/client-id": "00000000-0000-0000-0000-000000000000"}),
		account("plain", map[string]string{"team": "a"}),
		account("empty", map[string]string{"eks.amazonaws.com/role-arn": ""}),
	)
	d := newDefaultIdentities(cs.CoreV1().ServiceAccounts(""), cs)
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
	assert.Equal(t, map[string]string{"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/flink"}, o.(*corev1.ServiceAccount).Annotations,
		"only the identity is kept")
}

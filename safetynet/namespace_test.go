package safetynet

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/flink-ha-webhook/flink-ha-webhook/nspolicy"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
)

// TestReconcileFollowsTheNamespacePolicy: whether an opted-out HA
// ConfigMap keeps its owners is what its namespace's policy says, not the
// policy file; where that policy cannot be read, the owners stay.
func TestReconcileFollowsTheNamespacePolicy(t *testing.T) {
	t.Parallel()
	file, err := policy.Parse([]byte("allowOptOut: true\n"))
	require.NoError(t, err)
	no := false
	strict, err := (&nspolicy.Spec{AllowOptOut: &no}).Apply(file)
	require.NoError(t, err)
	cases := map[string]struct {
		policy  *policy.Policy
		err     error
		want    *corev1.ConfigMap
		wantErr string
	}{
		"an opted-out ConfigMap loses its owners where the namespace's policy forbids opting out": {
			policy: strict, want: optedOut(),
		},
		"an opted-out ConfigMap keeps its owners where the namespace's policy allows opting out": {
			policy: file, want: optedOut(owner),
		},
		"the owners stay while the namespace's policy cannot be read": {
			policy: file, err: errors.New("listing FlinkHAPolicies: timeout"), want: optedOut(owner),
			wantErr: "reading the policy of namespace team, leaving the owner references: listing FlinkHAPolicies: timeout",
		},
		"a namespace the namespace cache has not seen yet is retried: it holds the ConfigMap, so it is not gone": {
			policy: file, err: apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, "team"), want: optedOut(owner),
			wantErr: `reading the policy of namespace team, leaving the owner references: namespaces "team" not found`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := fake.NewClientBuilder().WithObjects(optedOut(owner)).Build()
			key := client.ObjectKey{Namespace: "team", Name: "orders-cluster-config-map"}
			r := &Reconciler{Client: c, Policy: file, PolicyFor: func(_ context.Context, ns string) (*policy.Policy, error) {
				assert.Equal(t, "team", ns)
				return tc.policy, tc.err
			}}
			_, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: key})
			if tc.wantErr == "" {
				require.NoError(t, err)
			} else {
				require.EqualError(t, err, tc.wantErr)
			}
			got := &corev1.ConfigMap{}
			require.NoError(t, c.Get(context.Background(), key, got))
			assert.Equal(t, tc.want.Data, got.Data)
			assert.Equal(t, tc.want.Annotations, got.Annotations)
			assert.Equal(t, tc.want.OwnerReferences, got.OwnerReferences)
		})
	}
}

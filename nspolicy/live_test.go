package nspolicy

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
)

// TestLiveForANamespaceTheCacheHasNotSeen: a namespace created just before
// its first object is not in the cache yet; its labels are read from the
// API server, so it gets its own policy rather than the policy file.
func TestLiveForANamespaceTheCacheHasNotSeen(t *testing.T) {
	t.Parallel()
	def, err := policy.Parse([]byte("storageDir: s3://shared/{namespace}/{clusterId}\n"))
	require.NoError(t, err)
	teamA := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": GroupVersionKind.GroupVersion().String(), "kind": GroupVersionKind.Kind,
		"metadata": map[string]any{"name": "team-a"},
		"spec": map[string]any{
			"namespaceSelector": map[string]any{"matchLabels": map[string]any{"team": "a"}},
			"storageDir":        "s3://team-a/{clusterId}",
		},
	}}
	scheme := runtime.NewScheme()
	require.NoError(t, corev1.AddToScheme(scheme))
	newNamespace := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "fresh", Labels: map[string]string{"team": "a"}}}
	cache := fake.NewClientBuilder().WithScheme(scheme).WithObjects(teamA).Build() // has the policy, not the namespace
	apiServer := fake.NewClientBuilder().WithScheme(scheme).WithObjects(newNamespace).Build()

	cases := map[string]struct {
		direct      client.Reader
		wantStorage string
		wantErr     string
	}{
		"the API server's labels select the namespace's policy": {direct: apiServer, wantStorage: "s3://team-a/{clusterId}"},
		"a namespace nobody has is reported, and the policy file applies": {
			direct:      fake.NewClientBuilder().WithScheme(scheme).Build(),
			wantStorage: "s3://shared/{namespace}/{clusterId}",
			wantErr:     `reading the labels of namespace fresh: namespaces "fresh" not found`,
		},
	}
	for name, tc := range cases {
		// Not in parallel: the fake clients add the FlinkHAPolicy kind to
		// their shared scheme as they read it.
		t.Run(name, func(t *testing.T) {
			l := &Live{reader: cache, direct: tc.direct, Default: def}
			p, err := l.For(context.Background(), "fresh")
			if tc.wantErr == "" {
				require.NoError(t, err)
			} else {
				require.EqualError(t, err, tc.wantErr)
			}
			assert.Equal(t, tc.wantStorage, p.StorageDir)
		})
	}
}

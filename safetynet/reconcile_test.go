package safetynet

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
)

const leader = `{"holderIdentity":"jm-0","renewTime":"2026-11-24T07:00:00Z"}`

func haConfigMap(name string, owners ...metav1.OwnerReference) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: name, OwnerReferences: owners,
			Annotations: map[string]string{"control-plane.alpha.kubernetes.io/leader": leader},
			Labels:      map[string]string{"app": "orders", "configmap-type": "high-availability"}},
		Data: map[string]string{"counter": "9", "checkpointID-0000000000000000042": "pointer"},
	}
}

// TestReconcile runs the safety net on one ConfigMap and compares the whole
// stored ConfigMap afterwards: only owner references may go.
func TestReconcile(t *testing.T) {
	t.Parallel()
	p, err := policy.Parse([]byte("{}\n"))
	require.NoError(t, err)
	owner := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "jm", UID: "u"}
	plain := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "flink-config", OwnerReferences: []metav1.OwnerReference{owner}},
		Data: map[string]string{"flink-conf.yaml": "a: b\n"}}

	cases := map[string]struct {
		stored *corev1.ConfigMap
		want   *corev1.ConfigMap
	}{
		"an owned HA ConfigMap loses its owner references and nothing else": {
			stored: haConfigMap("orders-cluster-config-map", owner, owner),
			want:   haConfigMap("orders-cluster-config-map"),
		},
		"an HA ConfigMap without owners is not written": {
			stored: haConfigMap("orders-cluster-config-map"),
			want:   haConfigMap("orders-cluster-config-map"),
		},
		"a ConfigMap that is not HA keeps its owner": {
			stored: plain,
			want:   plain,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := fake.NewClientBuilder().WithObjects(tc.stored.DeepCopy()).Build()
			before := &corev1.ConfigMap{}
			key := client.ObjectKeyFromObject(tc.stored)
			require.NoError(t, c.Get(context.Background(), key, before))
			r := &Reconciler{Client: c, Policy: p}
			res, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: key})
			require.NoError(t, err)
			assert.Equal(t, ctrl.Result{}, res)
			got := &corev1.ConfigMap{}
			require.NoError(t, c.Get(context.Background(), key, got))
			assert.Equal(t, tc.want.Data, got.Data)
			assert.Equal(t, tc.want.Annotations, got.Annotations)
			assert.Equal(t, tc.want.Labels, got.Labels)
			assert.Equal(t, tc.want.OwnerReferences, got.OwnerReferences)
			if len(tc.stored.OwnerReferences) == len(tc.want.OwnerReferences) {
				assert.Equal(t, before.ResourceVersion, got.ResourceVersion, "nothing is written")
			}
		})
	}
}

// TestReconcileRetries: a ConfigMap that changed since it was read (Flink
// renewed its leadership) is read again soon; one that is gone is done; an
// API server that cannot be reached is an error, which the controller
// retries with backoff.
func TestReconcileRetries(t *testing.T) {
	t.Parallel()
	p, err := policy.Parse([]byte("{}\n"))
	require.NoError(t, err)
	owner := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "jm", UID: "u"}
	gr := schema.GroupResource{Resource: "configmaps"}
	cases := map[string]struct {
		patchErr error
		getErr   error
		want     ctrl.Result
		wantErr  bool
	}{
		"a conflict is read again soon":          {patchErr: apierrors.NewConflict(gr, "x", nil), want: ctrl.Result{RequeueAfter: 100 * time.Millisecond}},
		"a ConfigMap deleted in between is done": {patchErr: apierrors.NewNotFound(gr, "x")},
		"a ConfigMap that is gone is done":       {getErr: apierrors.NewNotFound(gr, "x")},
		"an unreachable API server is retried":   {patchErr: apierrors.NewServiceUnavailable("down"), wantErr: true},
		"an unreadable ConfigMap is retried":     {getErr: apierrors.NewTimeoutError("slow", 1), wantErr: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := fake.NewClientBuilder().WithObjects(haConfigMap("orders-cluster-config-map", owner)).WithInterceptorFuncs(interceptor.Funcs{
				Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
					if tc.getErr != nil {
						return tc.getErr
					}
					return c.Get(ctx, key, obj, opts...)
				},
				Patch: func(context.Context, client.WithWatch, client.Object, client.Patch, ...client.PatchOption) error {
					return tc.patchErr
				},
			}).Build()
			r := &Reconciler{Client: c, Policy: p}
			res, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "team", Name: "orders-cluster-config-map"}})
			assert.Equal(t, tc.wantErr, err != nil, "error: %v", err)
			assert.Equal(t, tc.want, res)
		})
	}
}

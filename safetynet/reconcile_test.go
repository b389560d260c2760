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

// owner is what Kubernetes would collect an HA ConfigMap with.
var owner = metav1.OwnerReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "jm", UID: "u"}

const leader = `{"holderIdentity":"jm-0","renewTime":"2026-11-24T07:00:00Z"}`

func haConfigMap(name string, owners ...metav1.OwnerReference) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: name, OwnerReferences: owners,
			Annotations: map[string]string{"control-plane.alpha.kubernetes.io/leader": leader},
			Labels:      map[string]string{"app": "orders", "configmap-type": "high-availability"}},
		Data: map[string]string{"counter": "9", "checkpointID-0000000000000000042": "pointer"},
	}
}

// optedOut is an HA ConfigMap whose cluster opted out of HA.
func optedOut(owners ...metav1.OwnerReference) *corev1.ConfigMap {
	cm := haConfigMap("orders-cluster-config-map", owners...)
	cm.Annotations[policy.AnnotationHA] = "off"
	return cm
}

// TestReconcile runs the safety net on one ConfigMap and compares the whole
// stored ConfigMap afterwards, and the whole patch sent: only owner
// references may go.
func TestReconcile(t *testing.T) {
	t.Parallel()
	p, err := policy.Parse([]byte("exemptNamespaces: [legacy]\n"))
	require.NoError(t, err)
	plain := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "flink-config", OwnerReferences: []metav1.OwnerReference{owner}},
		Data: map[string]string{"flink-conf.yaml": "a: b\n"}}
	in := func(ns string, cm *corev1.ConfigMap) *corev1.ConfigMap {
		cm.Namespace = ns
		return cm
	}

	cases := map[string]struct {
		stored    *corev1.ConfigMap
		want      *corev1.ConfigMap
		wantPatch string // "" when nothing may be written
	}{
		"an owned HA ConfigMap loses its owner references and nothing else": {
			stored:    haConfigMap("orders-cluster-config-map", owner, owner),
			want:      haConfigMap("orders-cluster-config-map"),
			wantPatch: `{"metadata":{"ownerReferences":null,"resourceVersion":"999"}}`,
		},
		"an owned HA ConfigMap in an exempt namespace keeps its owner": {
			stored: in("legacy", haConfigMap("orders-cluster-config-map", owner)),
			want:   in("legacy", haConfigMap("orders-cluster-config-map", owner)),
		},
		"an owned HA ConfigMap in kube-system keeps its owner": {
			stored: in("kube-system", haConfigMap("orders-cluster-config-map", owner)),
			want:   in("kube-system", haConfigMap("orders-cluster-config-map", owner)),
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
			var patches []string
			c := fake.NewClientBuilder().WithObjects(tc.stored.DeepCopy()).WithInterceptorFuncs(interceptor.Funcs{
				Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
					data, err := patch.Data(obj)
					require.NoError(t, err)
					patches = append(patches, string(patch.Type())+" "+string(data))
					return c.Patch(ctx, obj, patch, opts...)
				},
			}).Build()
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
			var wantPatches []string
			if tc.wantPatch != "" {
				wantPatches = []string{string(types.MergePatchType) + " " + tc.wantPatch}
			} else {
				assert.Equal(t, before.ResourceVersion, got.ResourceVersion, "nothing is written")
			}
			assert.Equal(t, wantPatches, patches, "the patch sent: owner references, guarded by the version read")
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

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
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/flink-ha-webhook/flink-ha-webhook/nspolicy"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
	"github.com/flink-ha-webhook/flink-ha-webhook/test/fakemanager"
)

// copies returns copies of objs for one fake client, which writes
// versions into the objects it stores.
func copies(objs []client.Object) []client.Object {
	out := make([]client.Object, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.DeepCopyObject().(client.Object))
	}
	return out
}

func testScheme(t *testing.T) *runtime.Scheme {
	s := runtime.NewScheme()
	require.NoError(t, clientgoscheme.AddToScheme(s))
	s.AddKnownTypeWithName(nspolicy.GroupVersionKind, &unstructured.Unstructured{})
	s.AddKnownTypeWithName(nspolicy.GroupVersionKind.GroupVersion().WithKind("FlinkHAPolicyList"), &unstructured.UnstructuredList{})
	return s
}

// TestSetup starts the safety net in a manager and sends it the event
// each of its watches exists for; the ConfigMap stored afterwards is
// compared whole, and so is the list of kinds watched.
func TestSetup(t *testing.T) {
	t.Parallel()
	file, err := policy.Parse([]byte("allowOptOut: true\n"))
	require.NoError(t, err)
	strictNamespace := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team", Labels: map[string]string{"tier": "strict"}}}
	strict := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"name": "strict", "resourceVersion": "1"},
		"spec":     map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{"tier": "strict"}}, "allowOptOut": false},
	}}
	strict.SetGroupVersionKind(nspolicy.GroupVersionKind)
	metadata := func(o client.Object) *metav1.PartialObjectMetadata {
		m := &metav1.PartialObjectMetadata{ObjectMeta: *o.(metav1.ObjectMetaAccessor).GetObjectMeta().(*metav1.ObjectMeta)}
		gvk, err := apiutil.GVKForObject(o, testScheme(t))
		require.NoError(t, err)
		m.SetGroupVersionKind(gvk)
		return m
	}
	added := func(kind string, o client.Object) func(*fakemanager.Cache) bool {
		return func(c *fakemanager.Cache) bool {
			return c.Informer(kind).Send(func(h toolscache.ResourceEventHandler) { h.OnAdd(o, false) })
		}
	}
	allWatches := []string{"ConfigMap (metadata)", "FlinkHAPolicy", "Namespace (metadata)"}
	cases := map[string]struct {
		crd     bool
		unseen  bool // the namespace is not in the cache yet
		stored  []client.Object
		event   func(*fakemanager.Cache) bool
		watched []string
		want    *corev1.ConfigMap
	}{
		"under the policy file alone, an owned HA ConfigMap that comes in loses its owners and nothing else": {
			stored:  []client.Object{haConfigMap("orders-cluster-config-map", owner)},
			event:   added("ConfigMap (metadata)", metadata(haConfigMap("orders-cluster-config-map", owner))),
			watched: []string{"ConfigMap (metadata)"}, want: haConfigMap("orders-cluster-config-map"),
		},
		"under namespace policies, a FlinkHAPolicy that forbids opting out takes the owners of an opted-out HA ConfigMap": {
			crd: true, stored: []client.Object{strictNamespace, strict, optedOut(owner)},
			event:   added("FlinkHAPolicy", strict),
			watched: allWatches, want: optedOut(),
		},
		"under namespace policies, a namespace labelled into a policy that forbids opting out: its opted-out HA ConfigMap loses its owners": {
			crd: true, stored: []client.Object{strictNamespace, strict, optedOut(owner)},
			event: func(c *fakemanager.Cache) bool {
				before := metadata(strictNamespace)
				before.Labels = nil
				return c.Informer("Namespace (metadata)").Send(func(h toolscache.ResourceEventHandler) { h.OnUpdate(before, metadata(strictNamespace)) })
			},
			watched: allWatches, want: optedOut(),
		},
		"a namespace the cache has not seen yet is confirmed through the uncached reader, and its policy decides": {
			crd: true, unseen: true, stored: []client.Object{strictNamespace, strict, optedOut(owner)},
			event:   added("ConfigMap (metadata)", metadata(optedOut(owner))),
			watched: allWatches, want: optedOut(),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := fake.NewClientBuilder().WithScheme(testScheme(t)).WithObjects(copies(tc.stored)...).Build()
			var crds []schema.GroupVersionKind
			if tc.crd {
				crds = append(crds, nspolicy.GroupVersionKind)
			}
			mgr := fakemanager.New(t, c, crds...)
			if tc.unseen {
				mgr.Cache.Reader = interceptor.NewClient(c, interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
					if obj.GetObjectKind().GroupVersionKind().Kind == "Namespace" {
						return apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, key.Name)
					}
					return c.Get(ctx, key, obj, opts...)
				}})
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			live, err := nspolicy.Setup(ctx, mgr, file)
			require.NoError(t, err)
			assert.Equal(t, tc.crd, live != nil, "namespace policies apply where their CRD is installed")
			require.NoError(t, Setup(mgr, file, live))
			done := make(chan error)
			go func() { done <- mgr.Start(ctx) }()

			key := client.ObjectKeyFromObject(tc.want)
			got := &corev1.ConfigMap{}
			assert.Eventually(t, func() bool {
				cm := &corev1.ConfigMap{}
				return tc.event(mgr.Cache) && c.Get(ctx, key, cm) == nil && len(cm.OwnerReferences) == 0
			}, 20*time.Second, 10*time.Millisecond, "the owner references are removed")
			require.NoError(t, c.Get(ctx, key, got))
			assert.Equal(t, tc.want.Data, got.Data)
			assert.Equal(t, tc.want.Annotations, got.Annotations)
			assert.Equal(t, tc.want.Labels, got.Labels)
			assert.Equal(t, tc.want.OwnerReferences, got.OwnerReferences)
			assert.Equal(t, tc.watched, mgr.Cache.Watched())
			cancel()
			require.NoError(t, <-done)
		})
	}
}

// TestCandidates: a change of a FlinkHAPolicy or of a namespace's labels
// queues the HA ConfigMaps with owners outside system and exempt
// namespaces (opted out or not: the namespace's policy decides in
// Reconcile), and nothing else.
func TestCandidates(t *testing.T) {
	t.Parallel()
	file, err := policy.Parse([]byte("exemptNamespaces: [legacy]\n"))
	require.NoError(t, err)
	in := func(ns string, cm *corev1.ConfigMap) *corev1.ConfigMap {
		cm.Namespace = ns
		return cm
	}
	optedOut := haConfigMap("opted-cluster-config-map", owner)
	optedOut.Annotations[policy.AnnotationHA] = "off"
	stored := []client.Object{
		haConfigMap("orders-cluster-config-map", owner),
		in("web", haConfigMap("shop-cluster-config-map", owner)),
		optedOut,
		haConfigMap("idle-cluster-config-map"),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "flink-config-orders", OwnerReferences: []metav1.OwnerReference{owner}}},
		in("kube-system", haConfigMap("sys-cluster-config-map", owner)),
		in("legacy", haConfigMap("old-cluster-config-map", owner)),
	}
	request := func(ns, name string) reconcile.Request {
		return reconcile.Request{NamespacedName: client.ObjectKey{Namespace: ns, Name: name}}
	}
	cases := map[string]struct {
		opts    []client.ListOption
		listErr error
		want    []reconcile.Request
	}{
		"a FlinkHAPolicy change queues the owned HA ConfigMaps of every namespace, opted out or not": {
			want: []reconcile.Request{request("team", "orders-cluster-config-map"), request("team", "opted-cluster-config-map"), request("web", "shop-cluster-config-map")},
		},
		"a namespace's label change queues its own owned HA ConfigMaps": {
			opts: []client.ListOption{client.InNamespace("web")},
			want: []reconcile.Request{request("web", "shop-cluster-config-map")},
		},
		"an exempt namespace's label change queues nothing": {
			opts: []client.ListOption{client.InNamespace("legacy")},
		},
		"a list that fails queues nothing": {
			listErr: apierrors.NewServiceUnavailable("the API server is down"),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := fake.NewClientBuilder().WithObjects(copies(stored)...).WithInterceptorFuncs(interceptor.Funcs{
				List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
					if tc.listErr != nil {
						return tc.listErr
					}
					return c.List(ctx, list, opts...)
				},
			}).Build()
			assert.ElementsMatch(t, tc.want, candidates(context.Background(), c, file, tc.opts...))
		})
	}
}

// TestRetryLimiter: retries of one item double from 50ms and stop growing
// at 30s, so a reconciler catches up within 30s of an outage's end; an
// item that succeeded starts again at 50ms, and items do not share their
// count.
func TestRetryLimiter(t *testing.T) {
	t.Parallel()
	l := RetryLimiter()
	cm := reconcile.Request{NamespacedName: client.ObjectKey{Namespace: "team", Name: "orders-cluster-config-map"}}
	var got []time.Duration
	for range 13 {
		got = append(got, l.When(cm))
	}
	ms := time.Millisecond
	assert.Equal(t, []time.Duration{50 * ms, 100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms, 3200 * ms, 6400 * ms,
		12800 * ms, 25600 * ms, 30 * time.Second, 30 * time.Second, 30 * time.Second}, got)
	assert.Equal(t, 13, l.NumRequeues(cm))
	other := reconcile.Request{NamespacedName: client.ObjectKey{Namespace: "team", Name: "shop-cluster-config-map"}}
	assert.Equal(t, 50*ms, l.When(other), "another item starts at 50ms")
	l.Forget(cm)
	assert.Equal(t, 0, l.NumRequeues(cm))
	assert.Equal(t, 50*ms, l.When(cm), "a forgotten item starts again at 50ms")
}

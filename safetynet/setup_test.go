package safetynet

import (
	"context"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/flink-ha-webhook/flink-ha-webhook/nspolicy"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
)

// informer stands in for a shared informer: a test hands it the events
// the API server would send, to every handler registered so far.
type informer struct {
	mu       sync.Mutex
	handlers []toolscache.ResourceEventHandler
}

func (i *informer) AddEventHandler(h toolscache.ResourceEventHandler) (toolscache.ResourceEventHandlerRegistration, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.handlers = append(i.handlers, h)
	return synced{}, nil
}

func (i *informer) AddEventHandlerWithResyncPeriod(h toolscache.ResourceEventHandler, _ time.Duration) (toolscache.ResourceEventHandlerRegistration, error) {
	return i.AddEventHandler(h)
}

func (i *informer) AddEventHandlerWithOptions(h toolscache.ResourceEventHandler, _ toolscache.HandlerOptions) (toolscache.ResourceEventHandlerRegistration, error) {
	return i.AddEventHandler(h)
}

func (i *informer) RemoveEventHandler(toolscache.ResourceEventHandlerRegistration) error { return nil }
func (i *informer) AddIndexers(toolscache.Indexers) error                                { return nil }
func (i *informer) HasSynced() bool                                                      { return true }
func (i *informer) HasSyncedChecker() toolscache.DoneChecker                             { return synced{} }
func (i *informer) IsStopped() bool                                                      { return false }

// send hands each handler the event; it reports whether any was there
// (a controller registers its handlers once the manager has started it).
func (i *informer) send(event func(toolscache.ResourceEventHandler)) bool {
	i.mu.Lock()
	handlers := append([]toolscache.ResourceEventHandler(nil), i.handlers...)
	i.mu.Unlock()
	for _, h := range handlers {
		event(h)
	}
	return len(handlers) > 0
}

func (i *informer) watched() bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	return len(i.handlers) > 0
}

type synced struct{}

var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (synced) HasSynced() bool                          { return true }
func (synced) HasSyncedChecker() toolscache.DoneChecker { return synced{} }
func (synced) Name() string                             { return "synced" }
func (synced) Done() <-chan struct{}                    { return closed }

// fakeCache is the manager's cache: it reads from a fake client, and its
// informers are the test's, keyed by kind ("Namespace (metadata)" for a
// metadata-only watch).
type fakeCache struct {
	cache.Cache // the methods not below are not called
	reader      client.Reader
	scheme      *runtime.Scheme
	mu          sync.Mutex
	informers   map[string]*informer
}

func (c *fakeCache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	return c.reader.Get(ctx, key, obj, opts...)
}

func (c *fakeCache) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return c.reader.List(ctx, list, opts...)
}

func (c *fakeCache) GetInformer(_ context.Context, obj client.Object, _ ...cache.InformerGetOption) (cache.Informer, error) {
	gvk, err := apiutil.GVKForObject(obj, c.scheme)
	if err != nil {
		return nil, err
	}
	key := gvk.Kind
	if _, ok := obj.(*metav1.PartialObjectMetadata); ok {
		key += " (metadata)"
	}
	return c.informer(key), nil
}

func (c *fakeCache) informer(key string) *informer {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.informers[key] == nil {
		c.informers[key] = &informer{}
	}
	return c.informers[key]
}

// watched returns the kinds some handler watches.
func (c *fakeCache) watched() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var kinds []string
	for k, i := range c.informers {
		if i.watched() {
			kinds = append(kinds, k)
		}
	}
	sort.Strings(kinds)
	return kinds
}

func (c *fakeCache) Start(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

func (c *fakeCache) WaitForCacheSync(context.Context) bool { return true }

func (c *fakeCache) IndexField(context.Context, client.Object, string, client.IndexerFunc) error {
	return nil
}

// testManager is a manager whose API server is a fake client (cached and
// direct reads alike), whose cache's informers are the test's, and which
// knows the FlinkHAPolicy resource where crd is true.
type testManager struct {
	manager.Manager
	cache *fakeCache
	api   client.Reader
}

func (m testManager) GetAPIReader() client.Reader { return m.api }

func newManager(t *testing.T, c client.WithWatch, crd bool) testManager {
	t.Helper()
	s := c.Scheme()
	fc := &fakeCache{reader: c, scheme: s, informers: map[string]*informer{}}
	mapper := meta.NewDefaultRESTMapper(nil)
	mapper.Add(corev1.SchemeGroupVersion.WithKind("ConfigMap"), meta.RESTScopeNamespace)
	mapper.Add(corev1.SchemeGroupVersion.WithKind("Namespace"), meta.RESTScopeRoot)
	if crd {
		mapper.Add(nspolicy.GroupVersionKind, meta.RESTScopeRoot)
	}
	mgr, err := ctrl.NewManager(&rest.Config{Host: "https://api.invalid"}, manager.Options{
		Scheme:         s,
		Logger:         logr.Discard(),
		Metrics:        metricsserver.Options{BindAddress: "0"},
		Controller:     config.Controller{SkipNameValidation: ptr.To(true)},
		MapperProvider: func(*rest.Config, *http.Client) (meta.RESTMapper, error) { return mapper, nil },
		NewCache:       func(*rest.Config, cache.Options) (cache.Cache, error) { return fc, nil },
		NewClient:      func(*rest.Config, client.Options) (client.Client, error) { return c, nil },
	})
	require.NoError(t, err)
	return testManager{Manager: mgr, cache: fc, api: c}
}

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
	added := func(kind string, o client.Object) func(*fakeCache) bool {
		return func(c *fakeCache) bool {
			return c.informer(kind).send(func(h toolscache.ResourceEventHandler) { h.OnAdd(o, false) })
		}
	}
	allWatches := []string{"ConfigMap (metadata)", "FlinkHAPolicy", "Namespace (metadata)"}
	cases := map[string]struct {
		crd     bool
		unseen  bool // the namespace is not in the cache yet
		stored  []client.Object
		event   func(*fakeCache) bool
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
			event: func(c *fakeCache) bool {
				before := metadata(strictNamespace)
				before.Labels = nil
				return c.informer("Namespace (metadata)").send(func(h toolscache.ResourceEventHandler) { h.OnUpdate(before, metadata(strictNamespace)) })
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
			mgr := newManager(t, c, tc.crd)
			if tc.unseen {
				mgr.cache.reader = interceptor.NewClient(c, interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
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
			require.Eventually(t, func() bool {
				return tc.event(mgr.cache) && c.Get(ctx, key, got) == nil && len(got.OwnerReferences) == 0
			}, 20*time.Second, 10*time.Millisecond, "the owner references are removed")
			assert.Equal(t, tc.want.Data, got.Data)
			assert.Equal(t, tc.want.Annotations, got.Annotations)
			assert.Equal(t, tc.want.Labels, got.Labels)
			assert.Equal(t, tc.want.OwnerReferences, got.OwnerReferences)
			assert.Equal(t, tc.watched, mgr.cache.watched())
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

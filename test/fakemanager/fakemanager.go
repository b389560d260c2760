// Package fakemanager builds a controller-runtime manager for unit tests of
// a reconciler's Setup without an API server: reads go to a fake client,
// and the cache's informers are the test's, which hands them the events
// the API server would send. No process, port or network is used.
package fakemanager

import (
	"context"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// Informer stands in for a shared informer: Send hands an event to every
// handler registered so far.
type Informer struct {
	mu       sync.Mutex
	handlers []toolscache.ResourceEventHandler
}

// AddEventHandler implements cache.Informer.
func (i *Informer) AddEventHandler(h toolscache.ResourceEventHandler) (toolscache.ResourceEventHandlerRegistration, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.handlers = append(i.handlers, h)
	return synced{}, nil
}

// AddEventHandlerWithResyncPeriod implements cache.Informer; there are no resyncs.
func (i *Informer) AddEventHandlerWithResyncPeriod(h toolscache.ResourceEventHandler, _ time.Duration) (toolscache.ResourceEventHandlerRegistration, error) {
	return i.AddEventHandler(h)
}

// AddEventHandlerWithOptions implements cache.Informer.
func (i *Informer) AddEventHandlerWithOptions(h toolscache.ResourceEventHandler, _ toolscache.HandlerOptions) (toolscache.ResourceEventHandlerRegistration, error) {
	return i.AddEventHandler(h)
}

// RemoveEventHandler implements cache.Informer; handlers stay.
func (i *Informer) RemoveEventHandler(toolscache.ResourceEventHandlerRegistration) error { return nil }

// AddIndexers implements cache.Informer; nothing is indexed.
func (i *Informer) AddIndexers(toolscache.Indexers) error { return nil }

// HasSynced implements cache.Informer: the informer starts synced.
func (i *Informer) HasSynced() bool { return true }

// HasSyncedChecker implements cache.Informer.
func (i *Informer) HasSyncedChecker() toolscache.DoneChecker { return synced{} }

// IsStopped implements cache.Informer.
func (i *Informer) IsStopped() bool { return false }

// Send hands each handler the event and reports whether there was one: a
// controller registers its handlers only once the manager has started it,
// so a test sends until the effect it waits for shows.
func (i *Informer) Send(event func(toolscache.ResourceEventHandler)) bool {
	i.mu.Lock()
	handlers := append([]toolscache.ResourceEventHandler(nil), i.handlers...)
	i.mu.Unlock()
	for _, h := range handlers {
		event(h)
	}
	return len(handlers) > 0
}

func (i *Informer) watched() bool {
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

// Cache is the manager's cache: it reads through Reader, and its
// informers are keyed by kind ("Namespace (metadata)" for a metadata-only
// watch).
type Cache struct {
	cache.Cache // the methods not below are not called
	// Reader answers Get and List; a test may swap it before the manager
	// starts (a cache that lags behind the API server).
	Reader    client.Reader
	scheme    *runtime.Scheme
	mu        sync.Mutex
	informers map[string]*Informer
}

// Get implements client.Reader.
func (c *Cache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	return c.Reader.Get(ctx, key, obj, opts...)
}

// List implements client.Reader.
func (c *Cache) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return c.Reader.List(ctx, list, opts...)
}

// GetInformer implements cache.Informers.
func (c *Cache) GetInformer(_ context.Context, obj client.Object, _ ...cache.InformerGetOption) (cache.Informer, error) {
	gvk, err := apiutil.GVKForObject(obj, c.scheme)
	if err != nil {
		return nil, err
	}
	key := gvk.Kind
	if _, ok := obj.(*metav1.PartialObjectMetadata); ok {
		key += " (metadata)"
	}
	return c.Informer(key), nil
}

// Informer returns the informer of a kind, made on first use.
func (c *Cache) Informer(key string) *Informer {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.informers[key] == nil {
		c.informers[key] = &Informer{}
	}
	return c.informers[key]
}

// Watched returns the kinds some handler watches, sorted.
func (c *Cache) Watched() []string {
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

// Start implements cache.Cache: it runs until ctx is done.
func (c *Cache) Start(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// WaitForCacheSync implements cache.Cache: the cache is always synced.
func (c *Cache) WaitForCacheSync(context.Context) bool { return true }

// IndexField implements cache.Cache; nothing is indexed.
func (c *Cache) IndexField(context.Context, client.Object, string, client.IndexerFunc) error {
	return nil
}

// Manager is a manager whose API server is a fake client (for the
// manager's client and its API reader alike), whose cache is Cache, and
// which knows the custom resources it was made with besides the built-in
// ones.
type Manager struct {
	manager.Manager
	Cache *Cache
	api   client.Reader
}

// GetAPIReader implements manager.Manager: the fake client, uncached.
func (m Manager) GetAPIReader() client.Reader { return m.api }

// New returns a Manager on the fake client c, whose RESTMapper knows the
// custom resources crds (and nothing else: only custom resources are
// looked up). Its controllers may share names, as each test makes its own.
func New(t testing.TB, c client.WithWatch, crds ...schema.GroupVersionKind) Manager {
	t.Helper()
	s := c.Scheme()
	fc := &Cache{Reader: c, scheme: s, informers: map[string]*Informer{}}
	mapper := meta.NewDefaultRESTMapper(nil)
	for _, gvk := range crds {
		mapper.Add(gvk, meta.RESTScopeNamespace)
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
	return Manager{Manager: mgr, Cache: fc, api: c}
}

package nspolicy

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"testing"

	"github.com/go-logr/logr/funcr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache/informertest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

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

// flinkHAPolicy is a FlinkHAPolicy as the API server stores it.
func flinkHAPolicy(name string, spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": GroupVersionKind.GroupVersion().String(), "kind": GroupVersionKind.Kind,
		"metadata": map[string]any{"name": name},
		"spec":     spec,
	}}
}

// teamA selects the namespaces labelled team=a.
func teamA() *unstructured.Unstructured {
	return flinkHAPolicy("team-a", map[string]any{
		"namespaceSelector": map[string]any{"matchLabels": map[string]any{"team": "a"}},
		"storageDir":        "s3://team-a/{clusterId}",
	})
}

func namespace(name string, labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

// fakeAPI is a fake client with a scheme of its own, so that tests using
// it can run in parallel.
func fakeAPI(t *testing.T, funcs *interceptor.Funcs, objs ...client.Object) client.WithWatch {
	t.Helper()
	scheme := runtime.NewScheme()
	require.NoError(t, corev1.AddToScheme(scheme))
	b := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...)
	if funcs != nil {
		b = b.WithInterceptorFuncs(*funcs)
	}
	return b.Build()
}

func TestLiveFor(t *testing.T) {
	t.Parallel()
	def, err := policy.Parse([]byte("storageDir: s3://shared/{namespace}/{clusterId}\n"))
	require.NoError(t, err)
	const shared, ownDir = "s3://shared/{namespace}/{clusterId}", "s3://team-a/{clusterId}"
	labelled := namespace("analytics", map[string]string{"team": "a"})
	failGet := &interceptor.Funcs{Get: func(context.Context, client.WithWatch, client.ObjectKey, client.Object, ...client.GetOption) error {
		return errors.New("the cache is stopping")
	}}
	failList := &interceptor.Funcs{List: func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) error {
		return errors.New("the cache is stopping")
	}}

	cases := map[string]struct {
		cache, direct func(t *testing.T) client.Reader
		wantStorage   string
		wantErr       string
	}{
		"a namespace in the cache gets the policy its labels select": {
			cache:       func(t *testing.T) client.Reader { return fakeAPI(t, nil, teamA(), labelled) },
			wantStorage: ownDir,
		},
		"a namespace no FlinkHAPolicy selects gets the policy file": {
			cache: func(t *testing.T) client.Reader {
				return fakeAPI(t, nil, teamA(), namespace("analytics", map[string]string{"team": "b"}))
			},
			wantStorage: shared,
		},
		"without FlinkHAPolicies every namespace gets the policy file": {
			cache:       func(t *testing.T) client.Reader { return fakeAPI(t, nil, labelled) },
			wantStorage: shared,
		},
		"a namespace in the cache is not read from the API server": {
			cache: func(t *testing.T) client.Reader { return fakeAPI(t, nil, teamA(), labelled) },
			direct: func(t *testing.T) client.Reader {
				return fakeAPI(t, &interceptor.Funcs{Get: func(context.Context, client.WithWatch, client.ObjectKey, client.Object, ...client.GetOption) error {
					t.Error("the API server was asked for a namespace the cache has")
					return nil
				}})
			},
			wantStorage: ownDir,
		},
		"a namespace the cache has not seen is read from the API server": {
			cache:       func(t *testing.T) client.Reader { return fakeAPI(t, nil, teamA()) },
			direct:      func(t *testing.T) client.Reader { return fakeAPI(t, nil, labelled) },
			wantStorage: ownDir,
		},
		"without a direct reader a namespace the cache has not seen is reported, and the policy file applies": {
			cache:       func(t *testing.T) client.Reader { return fakeAPI(t, nil, teamA()) },
			wantStorage: shared,
			wantErr:     `reading the labels of namespace analytics: namespaces "analytics" not found`,
		},
		"a cache that fails is reported, not bypassed": {
			cache:       func(t *testing.T) client.Reader { return fakeAPI(t, failGet, teamA(), labelled) },
			direct:      func(t *testing.T) client.Reader { return fakeAPI(t, nil, labelled) },
			wantStorage: shared,
			wantErr:     "reading the labels of namespace analytics: the cache is stopping",
		},
		"the API server failing to read a namespace is reported": {
			cache:       func(t *testing.T) client.Reader { return fakeAPI(t, nil, teamA()) },
			direct:      func(t *testing.T) client.Reader { return fakeAPI(t, failGet, labelled) },
			wantStorage: shared,
			wantErr:     "reading the labels of namespace analytics: the cache is stopping",
		},
		"FlinkHAPolicies that cannot be listed are reported": {
			cache:       func(t *testing.T) client.Reader { return fakeAPI(t, failList, teamA(), labelled) },
			wantStorage: shared,
			wantErr:     "listing FlinkHAPolicies: the cache is stopping",
		},
		"a FlinkHAPolicy that does not convert is reported": {
			cache: func(t *testing.T) client.Reader {
				return fakeAPI(t, nil, labelled, flinkHAPolicy("odd", map[string]any{"namespaceSelector": map[string]any{}, "priority": "high"}))
			},
			wantStorage: shared,
			wantErr:     `FlinkHAPolicy odd: unrecognized type: int32`,
		},
		"a selector with an operator that does not exist is reported": {
			cache: func(t *testing.T) client.Reader {
				return fakeAPI(t, nil, labelled, flinkHAPolicy("odd", map[string]any{"namespaceSelector": map[string]any{
					"matchExpressions": []any{map[string]any{"key": "team", "operator": "Maybe"}},
				}}))
			},
			wantStorage: shared,
			wantErr:     `FlinkHAPolicy odd: spec.namespaceSelector: "Maybe" is not a valid label selector operator`,
		},
		"a selected FlinkHAPolicy that makes the policy file invalid is reported": {
			cache: func(t *testing.T) client.Reader {
				return fakeAPI(t, nil, labelled, flinkHAPolicy("loud", map[string]any{"namespaceSelector": map[string]any{}, "enforcement": "loud"}))
			},
			wantStorage: shared,
			wantErr:     `FlinkHAPolicy loud: enforcement: Unsupported value: "loud": supported values: "enforce", "warn"`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			l := &Live{reader: tc.cache(t), Default: def}
			if tc.direct != nil {
				l.direct = tc.direct(t)
			}
			p, err := l.For(context.Background(), "analytics")
			if tc.wantErr == "" {
				require.NoError(t, err)
			} else {
				require.EqualError(t, err, tc.wantErr)
			}
			require.NotNil(t, p)
			assert.Equal(t, tc.wantStorage, p.StorageDir)
		})
	}

	t.Run("no live policies, no policy: the caller keeps its own", func(t *testing.T) {
		t.Parallel()
		var l *Live
		p, err := l.For(context.Background(), "analytics")
		assert.NoError(t, err)
		assert.Nil(t, p)
	})
}

// TestLiveParsesPoliciesOncePerChange: every admission asks for the
// policies; they are converted again only when one was added, changed or
// removed, which the names and resourceVersions in the cache tell.
func TestLiveParsesPoliciesOncePerChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	api := fakeAPI(t, nil, teamA())
	l := &Live{reader: api, Default: policy.Default()}
	storageDirs := func(ps []FlinkHAPolicy) []string {
		var dirs []string
		for _, p := range ps {
			dirs = append(dirs, p.Name+"="+p.Spec.StorageDir)
		}
		return dirs
	}
	last, err := l.policies(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"team-a=s3://team-a/{clusterId}"}, storageDirs(last))

	steps := []struct {
		name     string
		change   func(t *testing.T)
		reparsed bool
		want     []string
	}{
		{name: "an unchanged list is not converted again", want: []string{"team-a=s3://team-a/{clusterId}"}},
		{
			name: "a changed resourceVersion is converted again",
			change: func(t *testing.T) {
				u := teamA()
				require.NoError(t, api.Get(ctx, client.ObjectKeyFromObject(u), u))
				require.NoError(t, unstructured.SetNestedField(u.Object, "s3://team-a-v2/{clusterId}", "spec", "storageDir"))
				require.NoError(t, api.Update(ctx, u))
			},
			reparsed: true, want: []string{"team-a=s3://team-a-v2/{clusterId}"},
		},
		{name: "and then not again", want: []string{"team-a=s3://team-a-v2/{clusterId}"}},
		{
			name: "an added policy is converted",
			change: func(t *testing.T) {
				require.NoError(t, api.Create(ctx, flinkHAPolicy("team-b", map[string]any{"namespaceSelector": map[string]any{}, "storageDir": "s3://b/{clusterId}"})))
			},
			reparsed: true, want: []string{"team-a=s3://team-a-v2/{clusterId}", "team-b=s3://b/{clusterId}"},
		},
		{
			name:     "a removed policy is gone",
			change:   func(t *testing.T) { require.NoError(t, api.Delete(ctx, teamA())) },
			reparsed: true, want: []string{"team-b=s3://b/{clusterId}"},
		},
	}
	for _, step := range steps {
		if step.change != nil {
			step.change(t)
		}
		got, err := l.policies(ctx)
		require.NoError(t, err, step.name)
		assert.Equal(t, step.want, storageDirs(got), step.name)
		// The same backing array is the memo's: nothing was converted.
		assert.Equal(t, step.reparsed, &got[0] != &last[0], step.name)
		last = got
	}

	require.NoError(t, api.Delete(ctx, flinkHAPolicy("team-b", nil)))
	none, err := l.policies(ctx)
	require.NoError(t, err)
	assert.Empty(t, none, "no policies left")
	l.parsed = append(l.parsed[:0], FlinkHAPolicy{ObjectMeta: metav1.ObjectMeta{Name: "memo"}})
	memo, err := l.policies(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"memo="}, storageDirs(memo), "an empty list is memoised too")
}

// recordPolicy is a handler that answers with the storageDir of the policy
// it was made for, so a test sees which policy a request got.
func recordPolicy(p *policy.Policy) admission.Handler {
	return admission.HandlerFunc(func(context.Context, admission.Request) admission.Response {
		return admission.Allowed(p.StorageDir)
	})
}

func TestPerNamespace(t *testing.T) {
	t.Parallel()
	def, err := policy.Parse([]byte("storageDir: s3://shared/{namespace}/{clusterId}\n"))
	require.NoError(t, err)
	failing := &interceptor.Funcs{List: func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) error {
		return errors.New("the cache is stopping")
	}}
	cases := map[string]struct {
		live        func(t *testing.T) *Live
		namespace   string
		wantStorage string
		wantLog     string
	}{
		"without live policies every request gets the policy file": {
			live:        func(*testing.T) *Live { return nil },
			namespace:   "analytics",
			wantStorage: "s3://shared/{namespace}/{clusterId}",
		},
		"a request gets the policy of its namespace": {
			live: func(t *testing.T) *Live {
				return &Live{reader: fakeAPI(t, nil, teamA(), namespace("analytics", map[string]string{"team": "a"})), Default: def}
			},
			namespace:   "analytics",
			wantStorage: "s3://team-a/{clusterId}",
		},
		"a namespace policy that cannot be read is logged, and the policy file applies": {
			live: func(t *testing.T) *Live {
				return &Live{reader: fakeAPI(t, failing, teamA(), namespace("analytics", map[string]string{"team": "a"})), Default: def}
			},
			namespace:   "analytics",
			wantStorage: "s3://shared/{namespace}/{clusterId}",
			wantLog: `"msg"="namespace policy unreadable; the policy file applies" "error"="listing FlinkHAPolicies: the cache is stopping" ` +
				`"namespace"="analytics"`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var logs []string
			log := funcr.New(func(prefix, args string) { logs = append(logs, args) }, funcr.Options{})
			h := PerNamespace(tc.live(t), def, recordPolicy)
			resp := h.Handle(logf.IntoContext(context.Background(), log), admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{Namespace: tc.namespace}})
			assert.Equal(t, admission.Allowed(tc.wantStorage), resp)
			var wantLogs []string
			if tc.wantLog != "" {
				wantLogs = []string{tc.wantLog}
			}
			assert.Equal(t, wantLogs, logs)
		})
	}
}

// failingMapper is a RESTMapper whose discovery fails.
type failingMapper struct{ meta.RESTMapper }

func (failingMapper) RESTMapping(schema.GroupKind, ...string) (*meta.RESTMapping, error) {
	return nil, errors.New("the server is currently unable to handle the request")
}

func TestSetup(t *testing.T) {
	t.Parallel()
	namespaceGVK := corev1.SchemeGroupVersion.WithKind("Namespace")
	withCRD := func() meta.RESTMapper {
		m := meta.NewDefaultRESTMapper(nil)
		m.Add(GroupVersionKind, meta.RESTScopeRoot)
		m.Add(namespaceGVK, meta.RESTScopeRoot)
		return m
	}
	cases := map[string]struct {
		mapper    meta.RESTMapper
		informers error
		wantLive  bool
		wantErr   string
		wantWatch []schema.GroupVersionKind
	}{
		"with the CRD installed, FlinkHAPolicies and namespaces are watched": {
			mapper: withCRD(), wantLive: true, wantWatch: []schema.GroupVersionKind{GroupVersionKind, namespaceGVK},
		},
		"without the CRD the policy file is the only policy": {mapper: meta.NewDefaultRESTMapper(nil)},
		"an API server that cannot say whether the CRD is installed is reported": {
			mapper:  failingMapper{withCRD()},
			wantErr: "looking for the FlinkHAPolicy resource: the server is currently unable to handle the request",
		},
		"a watch that cannot be set up is reported": {
			mapper: withCRD(), informers: errors.New("forbidden"), wantErr: "watching FlinkHAPolicy: forbidden",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// The informers' own scheme knows namespaces as metadata only,
			// as the cache's does.
			informerScheme := runtime.NewScheme()
			informerScheme.AddKnownTypeWithName(namespaceGVK, &metav1.PartialObjectMetadata{})
			informers := &informertest.FakeInformers{Scheme: informerScheme, Error: tc.informers}
			mgr, err := ctrl.NewManager(&rest.Config{Host: "https://127.0.0.1:1"}, ctrl.Options{
				MapperProvider: func(*rest.Config, *http.Client) (meta.RESTMapper, error) { return tc.mapper, nil },
				NewCache:       func(*rest.Config, cache.Options) (cache.Cache, error) { return informers, nil },
				Metrics:        metricsserver.Options{BindAddress: "0"},
			})
			require.NoError(t, err)
			def := policy.Default()
			live, err := Setup(context.Background(), mgr, def)
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				assert.Nil(t, live)
				return
			}
			require.NoError(t, err)
			if !tc.wantLive {
				assert.Nil(t, live)
				return
			}
			require.NotNil(t, live)
			assert.Same(t, def, live.Default)
			assert.Equal(t, mgr.GetCache(), live.reader, "admissions read the cache")
			assert.Equal(t, mgr.GetAPIReader(), live.direct, "and namespaces the cache has not seen from the API server")
			assert.ElementsMatch(t, tc.wantWatch, slices.Collect(maps.Keys(informers.InformersByGVK)))
		})
	}
}

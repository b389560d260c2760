package handler

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
)

// The kinds the collision check reads, in its order.
var collisionKinds = []string{"ConfigMap", "Deployment", "StatefulSet", "Job", "FlinkDeployment"}

// reviewed is the ConfigMap under review in namespace analytics: cluster-id
// orders, HA storage path s3://b/ha/orders; its cluster is
// analytics/ConfigMap/orders-v2.
func reviewed(name string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "analytics"},
		Data: map[string]string{"flink-conf.yaml": "kubernetes.cluster-id: orders\nhigh-availability.type: kubernetes\n" +
			"high-availability.storageDir: s3://b/ha\nhigh-availability.cluster-id: orders\n"},
	}
}

// recordedMeta is what the cache holds of an object the mutating webhook
// recorded: cluster, cluster-id and storage path (each left out when empty).
func recordedMeta(namespace, name, cluster, clusterID, path string) metav1.ObjectMeta {
	m := metav1.ObjectMeta{Name: name, Namespace: namespace, Annotations: map[string]string{"team": "a"}}
	for k, v := range map[string]string{AnnotationCluster: cluster, AnnotationClusterID: clusterID, AnnotationStoragePath: path} {
		if v != "" {
			m.Annotations[k] = v
		}
	}
	return m
}

// cachedConfigMap is a ConfigMap as the cache holds it: metadata only.
func cachedConfigMap(namespace, name, cluster, clusterID, path string) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: recordedMeta(namespace, name, cluster, clusterID, path)}
}

func cachedDeployment(namespace, name, cluster, clusterID, path string) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: recordedMeta(namespace, name, cluster, clusterID, path)}
}

// cachedFlinkDeployment is a FlinkDeployment as the cache holds it: unstructured.
func cachedFlinkDeployment(namespace, name, cluster, clusterID, path string) *unstructured.Unstructured {
	m := recordedMeta(namespace, name, cluster, clusterID, path)
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(FlinkDeploymentKind.WithVersion("v1beta1"))
	u.SetNamespace(m.Namespace)
	u.SetName(m.Name)
	u.SetAnnotations(m.Annotations)
	return u
}

// collisionStores makes one store per kind, indexed as the informers are.
func collisionStores(objs map[string][]metav1.Object) (map[string]toolscache.Indexer, *Collisions) {
	stores := map[string]toolscache.Indexer{}
	var indexers []toolscache.Indexer
	for _, k := range collisionKinds {
		stores[k] = toolscache.NewIndexer(toolscache.DeletionHandlingMetaNamespaceKeyFunc, collisionIndexers)
		for _, o := range objs[k] {
			if err := stores[k].Add(o); err != nil {
				panic(err)
			}
		}
		indexers = append(indexers, stores[k])
	}
	return stores, newCollisions(collisionKinds, indexers)
}

func clusterIDTaken(by string) *field.Error {
	return field.Invalid(field.NewPath("metadata", "annotations").Key(AnnotationClusterID), "orders",
		`cluster-id "orders" is already used by `+by+` in namespace analytics: two clusters with one cluster-id fight over `+
			`leadership and recover each other's jobs; give this cluster another kubernetes.cluster-id (a FlinkDeployment's is its name)`)
}

func storagePathTaken(by string) *field.Error {
	return field.Invalid(field.NewPath("metadata", "annotations").Key(AnnotationStoragePath), "s3://b/ha/orders",
		`HA storage path s3://b/ha/orders is already used by `+by+`: clusters sharing it overwrite each other's job graphs `+
			`and checkpoint pointers; give this cluster its own high-availability.storageDir or high-availability.cluster-id`)
}

// TestCollisionsCheckReadsTheIndex fills plain stores with what the cache
// would hold, indexed by collisionIndexers, and expects exactly the
// denials the check makes of the reviewed ConfigMap orders-v2.
func TestCollisionsCheckReadsTheIndex(t *testing.T) {
	t.Parallel()
	const own = "analytics/ConfigMap/orders-v2"
	cases := map[string]struct {
		stored  map[string][]metav1.Object
		deleted map[string][]metav1.Object // removed from the stores after adding
		review  metav1.Object              // reviewed("orders-v2") unless set
		policy  *policy.Policy             // policy.Default() unless set
		want    field.ErrorList
	}{
		"another cluster with the cluster-id in the namespace is denied, naming it": {
			stored: map[string][]metav1.Object{"ConfigMap": {cachedConfigMap("analytics", "orders", "analytics/ConfigMap/orders", "orders", "s3://b/ha/elsewhere")}},
			want:   field.ErrorList{clusterIDTaken("ConfigMap/orders")},
		},
		"the cluster-id in another namespace is no collision": {
			stored: map[string][]metav1.Object{"ConfigMap": {cachedConfigMap("payments", "orders", "payments/ConfigMap/orders", "orders", "s3://b/ha/elsewhere")}},
		},
		"a storage path used in another namespace is denied, naming the namespace": {
			stored: map[string][]metav1.Object{"Deployment": {cachedDeployment("payments", "jm", "payments/ConfigMap/conf", "jm", "s3://b/ha/orders")}},
			want:   field.ErrorList{storagePathTaken("Deployment/jm in namespace payments")},
		},
		"both taken by another cluster: both denied": {
			stored: map[string][]metav1.Object{"FlinkDeployment": {cachedFlinkDeployment("analytics", "orders", "analytics/native/orders", "orders", "s3://b/ha/orders")}},
			want:   field.ErrorList{clusterIDTaken("FlinkDeployment/orders"), storagePathTaken("FlinkDeployment/orders in namespace analytics")},
		},
		"of several kinds using it, the first kind in order is named": {
			stored: map[string][]metav1.Object{
				"Job":        {&batchv1.Job{ObjectMeta: recordedMeta("analytics", "job", "analytics/Job/job", "orders", "s3://b/ha/orders")}},
				"Deployment": {cachedDeployment("payments", "jm", "payments/ConfigMap/conf", "other", "s3://b/ha/orders")},
			},
			want: field.ErrorList{clusterIDTaken("Job/job"), storagePathTaken("Deployment/jm in namespace payments")},
		},
		"the object itself, whatever it recorded before, is no collision": {
			stored: map[string][]metav1.Object{"ConfigMap": {cachedConfigMap("analytics", "orders-v2", "analytics/ConfigMap/before", "orders", "s3://b/ha/orders")}},
		},
		"an object of another kind with the object's name is another object": {
			stored: map[string][]metav1.Object{"Deployment": {cachedDeployment("analytics", "orders-v2", "analytics/ConfigMap/before", "orders", "")}},
			want:   field.ErrorList{clusterIDTaken("Deployment/orders-v2")},
		},
		"an object with the object's name in another namespace is another object": {
			stored: map[string][]metav1.Object{"ConfigMap": {cachedConfigMap("payments", "orders-v2", "payments/ConfigMap/orders-v2", "orders", "s3://b/ha/orders")}},
			want:   field.ErrorList{storagePathTaken("ConfigMap/orders-v2 in namespace payments")},
		},
		"other objects of the same cluster are no collision": {
			stored: map[string][]metav1.Object{
				"Deployment":      {cachedDeployment("analytics", "orders-jobmanager", own, "orders", "s3://b/ha/orders")},
				"FlinkDeployment": {cachedFlinkDeployment("analytics", "orders", own, "orders", "s3://b/ha/orders")},
			},
		},
		"objects without recorded annotations are no collision": {
			stored: map[string][]metav1.Object{
				"ConfigMap":  {cachedConfigMap("analytics", "orders", "", "", "")},
				"Deployment": {&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "analytics", Name: "orders"}}},
			},
		},
		"an object deleted from the store no longer collides": {
			stored:  map[string][]metav1.Object{"ConfigMap": {cachedConfigMap("analytics", "orders", "analytics/ConfigMap/orders", "orders", "s3://b/ha/orders")}},
			deleted: map[string][]metav1.Object{"ConfigMap": {cachedConfigMap("analytics", "orders", "analytics/ConfigMap/orders", "orders", "s3://b/ha/orders")}},
		},
		"an object whose annotations were removed no longer collides": {
			stored: map[string][]metav1.Object{"ConfigMap": {
				cachedConfigMap("analytics", "orders", "analytics/ConfigMap/orders", "orders", "s3://b/ha/orders"),
				cachedConfigMap("analytics", "orders", "", "", ""), // the update
			}},
		},
		"a cluster-id equal to another object's storage path is no collision": {
			stored: map[string][]metav1.Object{"ConfigMap": {
				cachedConfigMap("analytics", "a", "analytics/ConfigMap/a", "a", "orders"),
				cachedConfigMap("analytics", "b", "analytics/ConfigMap/b", "b", "analytics/orders"),
				cachedConfigMap("analytics", "c", "analytics/ConfigMap/c", "c", "id:analytics/orders"),
			}},
		},
		"a storage path equal to another object's cluster-id is no collision": {
			stored: map[string][]metav1.Object{"ConfigMap": {cachedConfigMap("analytics", "s3", "analytics/ConfigMap/s3", "s3://b/ha/orders", "s3://b/ha/s3")}},
		},
		"an object in an exempt namespace is not checked": {
			stored: map[string][]metav1.Object{"ConfigMap": {cachedConfigMap("analytics", "orders", "analytics/ConfigMap/orders", "orders", "s3://b/ha/orders")}},
			policy: &policy.Policy{ExemptNamespaces: []string{"analytics"}},
		},
		"an object that defines no cluster is not checked": {
			stored: map[string][]metav1.Object{"ConfigMap": {cachedConfigMap("analytics", "orders", "analytics/ConfigMap/orders", "orders", "s3://b/ha/orders")}},
			review: &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "orders-v2", Namespace: "analytics"}, Data: map[string]string{"app.properties": "x"}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			stores, c := collisionStores(tc.stored)
			for k, objs := range tc.deleted {
				for _, o := range objs {
					require.NoError(t, stores[k].Delete(o))
				}
			}
			review, p := tc.review, tc.policy
			if review == nil {
				review = reviewed("orders-v2")
			}
			if p == nil {
				p = policy.Default()
			}
			errs, warnings := c.check(context.Background(), review, "analytics", p)
			assert.Equal(t, tc.want, errs)
			assert.Empty(t, warnings)
		})
	}
}

// TestCollisionsCheckWarnsBeforeTheCacheSynced: a kind whose informer has not synced
// within the check's time is a warning, never a denial, even where a
// synced kind before it would deny.
func TestCollisionsCheckWarnsBeforeTheCacheSynced(t *testing.T) {
	t.Parallel()
	_, c := collisionStores(map[string][]metav1.Object{"ConfigMap": {cachedConfigMap("payments", "orders", "payments/ConfigMap/orders", "x", "s3://b/ha/orders")}})
	(*c.kinds.Load())[1].synced = func() bool { return false }
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the review's own deadline has passed: no waiting
	errs, warnings := c.check(ctx, reviewed("orders-v2"), "analytics", policy.Default())
	assert.Empty(t, errs)
	assert.Equal(t, []string{`could not check whether another cluster uses cluster-id "orders": the cache of Deployments has not synced yet`}, warnings)

	var synced atomic.Bool
	(*c.kinds.Load())[1].synced = synced.Load
	go synced.Store(true)
	errs, warnings = c.check(context.Background(), reviewed("orders-v2"), "analytics", policy.Default())
	assert.Equal(t, field.ErrorList{storagePathTaken("ConfigMap/orders in namespace payments")}, errs, "a cache that syncs in time answers")
	assert.Empty(t, warnings)
}

// TestCollisionKeys: one key per recorded value, scoped as the check asks,
// and no keys (never an error, which would make the store panic) for what
// records nothing or is not an object.
func TestCollisionKeys(t *testing.T) {
	t.Parallel()
	both := cachedConfigMap("analytics", "orders", "analytics/ConfigMap/orders", "orders", "s3://b/ha/orders")
	cases := map[string]struct {
		obj  any
		want []string
	}{
		"a cluster-id under its namespace and a path cluster-wide": {obj: both, want: []string{"id:analytics/orders", "path:s3://b/ha/orders"}},
		"a cluster-id alone":                        {obj: cachedDeployment("analytics", "jm", "c", "orders", ""), want: []string{"id:analytics/orders"}},
		"a path alone":                              {obj: cachedFlinkDeployment("analytics", "fd", "c", "", "s3://b/ha/fd"), want: []string{"path:s3://b/ha/fd"}},
		"a tombstone as its object":                 {obj: toolscache.DeletedFinalStateUnknown{Key: "analytics/orders", Obj: both}, want: []string{"id:analytics/orders", "path:s3://b/ha/orders"}},
		"a tombstone of nothing, nothing":           {obj: toolscache.DeletedFinalStateUnknown{Key: "analytics/orders"}},
		"no recorded annotations, nothing":          {obj: cachedConfigMap("analytics", "orders", "analytics/ConfigMap/orders", "", "")},
		"an unstructured without metadata, nothing": {obj: &unstructured.Unstructured{Object: map[string]any{}}},
		"not an object, nothing":                    {obj: "analytics/orders"},
		"nil, nothing":                              {obj: nil},
	}
	for name, tc := range cases {
		got, err := collisionKeys(tc.obj)
		assert.NoError(t, err, name)
		assert.Equal(t, tc.want, got, name)
	}
}

// BenchmarkCollisionCheck checks a ConfigMap against a few thousand
// indexed objects of every kind, a handful of them sharing its cluster-id
// or path but of its own cluster, as the check finds them on a re-apply.
func BenchmarkCollisionCheck(b *testing.B) {
	const perKind = 1000
	objs := map[string][]metav1.Object{}
	for i := range perKind {
		ns := fmt.Sprintf("team-%d", i%50)
		objs["ConfigMap"] = append(objs["ConfigMap"], cachedConfigMap(ns, fmt.Sprintf("c%d", i), ns+"/ConfigMap/c", fmt.Sprintf("c%d", i), fmt.Sprintf("s3://b/ha/%s/c%d", ns, i)))
		objs["Deployment"] = append(objs["Deployment"], cachedDeployment(ns, fmt.Sprintf("d%d", i), ns+"/ConfigMap/c", fmt.Sprintf("c%d", i), fmt.Sprintf("s3://b/ha/%s/c%d", ns, i)))
		objs["FlinkDeployment"] = append(objs["FlinkDeployment"], cachedFlinkDeployment(ns, fmt.Sprintf("f%d", i), ns+"/native/f", fmt.Sprintf("f%d", i), fmt.Sprintf("s3://b/ha/%s/f%d", ns, i)))
	}
	const own = "analytics/ConfigMap/orders-v2"
	objs["ConfigMap"] = append(objs["ConfigMap"], cachedConfigMap("analytics", "orders-v2", own, "orders", "s3://b/ha/orders"))
	objs["Deployment"] = append(objs["Deployment"], cachedDeployment("analytics", "orders-jobmanager", own, "orders", "s3://b/ha/orders"))
	objs["FlinkDeployment"] = append(objs["FlinkDeployment"], cachedFlinkDeployment("analytics", "orders", own, "orders", "s3://b/ha/orders"))
	_, c := collisionStores(objs)
	review, p, ctx := reviewed("orders-v2"), policy.Default(), context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if errs, warnings := c.check(ctx, review, "analytics", p); len(errs)+len(warnings) > 0 {
			b.Fatal(errs, warnings)
		}
	}
}

package handler

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gomodulesjsonpatch "gomodules.xyz/jsonpatch/v2"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/flink-ha-webhook/flink-ha-webhook/fleet"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
	"github.com/flink-ha-webhook/flink-ha-webhook/recognise"
)

// Annotations the mutating webhook records on every Flink object that
// defines a cluster, so that a metadata-only cache knows which cluster-ids
// and HA storage paths are in use without caching whole objects. They are
// recomputed on every admission: a copied or edited value does not last.
const (
	// AnnotationCluster identifies the cluster the object belongs to:
	// a configuration ConfigMap and the JobManagers mounting it, or a
	// FlinkDeployment and its native cluster, share it.
	AnnotationCluster = "flink-ha-webhook/cluster"
	// AnnotationClusterID is the cluster's kubernetes.cluster-id.
	AnnotationClusterID = "flink-ha-webhook/cluster-id"
	// AnnotationStoragePath is storageDir/high-availability.cluster-id.
	AnnotationStoragePath = "flink-ha-webhook/ha-storage-path"
)

var recorded = []string{AnnotationCluster, AnnotationClusterID, AnnotationStoragePath}

// Recording makes the mutating handler (Mutating) also record the
// annotations above on what it admits, with the rest of its patch; any
// other handler is returned as it is.
func Recording(mutating admission.Handler) admission.Handler {
	if m, ok := mutating.(*mutator); ok {
		recording := *m
		recording.record = true
		return &recording
	}
	return mutating
}

// recordOps are the patch operations that make obj's recorded annotations
// say what cluster it defines, if any.
func recordOps(obj metav1.Object) []gomodulesjsonpatch.JsonPatchOperation {
	want := map[string]string{}
	if id, ok := fleet.Identify(obj, nil); ok && (id.ClusterID != "" || id.StoragePath != "") {
		want[AnnotationCluster] = id.Key
		if id.ClusterID != "" {
			want[AnnotationClusterID] = id.ClusterID
		}
		if id.StoragePath != "" {
			want[AnnotationStoragePath] = id.StoragePath
		}
	}
	return annotationOps(obj.GetAnnotations(), want)
}

// annotationOps turns the recorded annotations of have into want.
func annotationOps(have, want map[string]string) []gomodulesjsonpatch.JsonPatchOperation {
	var ops []gomodulesjsonpatch.JsonPatchOperation
	if have == nil {
		if len(want) > 0 {
			ops = append(ops, gomodulesjsonpatch.NewOperation("add", "/metadata/annotations", want))
		}
		return ops
	}
	for _, k := range recorded {
		path := "/metadata/annotations/" + strings.ReplaceAll(k, "/", "~1")
		v, ok := want[k]
		old, had := have[k]
		switch {
		case ok && !had:
			ops = append(ops, gomodulesjsonpatch.NewOperation("add", path, v))
		case ok && old != v:
			ops = append(ops, gomodulesjsonpatch.NewOperation("replace", path, v))
		case !ok && had:
			ops = append(ops, gomodulesjsonpatch.NewOperation("remove", path, nil))
		}
	}
	return ops
}

// collisionIndex is the one index the collision check adds to the
// informer of each kind it reads.
const collisionIndex = "flink-ha-webhook.collisions"

// Keys of collisionIndex. Their prefixes differ in the first byte, so a
// cluster-id key never equals a storage path key, whatever the values;
// a namespace has no "/", so the first one ends it.
func clusterIDKey(namespace, clusterID string) string { return "id:" + namespace + "/" + clusterID }
func storagePathKey(path string) string               { return "path:" + path }

// collisionIndexers index an object by its recorded cluster-id, in its
// namespace, and its recorded HA storage path, cluster-wide: one key each,
// none for an object that records neither.
var collisionIndexers = toolscache.Indexers{collisionIndex: collisionKeys}

func collisionKeys(obj any) ([]string, error) {
	if tombstone, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	o, ok := obj.(metav1.Object)
	if !ok {
		// An error here would make the store panic; an object the
		// check cannot read cannot collide either.
		return nil, nil
	}
	id, path := annotation(o, AnnotationClusterID), annotation(o, AnnotationStoragePath)
	if id == "" && path == "" {
		return nil, nil
	}
	keys := make([]string, 0, 2)
	if id != "" {
		keys = append(keys, clusterIDKey(o.GetNamespace(), id))
	}
	if path != "" {
		keys = append(keys, storagePathKey(path))
	}
	return keys, nil
}

// annotation reads one annotation of a cached object without copying
// them all, which GetAnnotations of an Unstructured does.
func annotation(o metav1.Object, key string) string {
	if u, ok := o.(*unstructured.Unstructured); ok {
		v, _, _ := unstructured.NestedString(u.Object, "metadata", "annotations", key)
		return v
	}
	return o.GetAnnotations()[key]
}

// Collisions answers, from the manager's cache of the objects that can
// define Flink clusters, which other cluster already uses a cluster-id or
// an HA storage path. It reads the same informers as the account
// reconciler (workloads as typed objects, FlinkDeployments as unstructured
// ones, both slimmed by the cache's transforms to what the two read) and
// ConfigMaps' metadata, which the safety net watches too: one watch per
// kind. Each informer carries one index of its own over the recorded
// annotations (collisionIndexers: the cluster-id under its namespace, the
// storage path cluster-wide), which the check reads directly, so a review
// costs a map look-up per kind and key, and an annotated object two index
// entries.
type Collisions struct {
	// kinds is read by every review while a kind whose CRD was installed
	// after the start may be added: an immutable slice, replaced whole.
	kinds atomic.Pointer[[]cachedKind]
	// mu orders additions; informers is where they come from.
	mu        sync.Mutex
	informers cache.Informers
}

// cachedKind is one kind the webhooks read from the manager's cache, by
// its informer's indexer.
type cachedKind struct {
	kind    string
	indexer toolscache.Indexer
	synced  toolscache.InformerSynced
}

// cached returns informers' informer of obj, read as kind, with indexers
// added to it (none: nil); what says what it is read for, in errors.
func cached(ctx context.Context, informers cache.Informers, kind, what string, obj client.Object, indexers toolscache.Indexers) (cachedKind, error) {
	informer, err := informers.GetInformer(ctx, obj, cache.BlockUntilSynced(false))
	if err != nil {
		return cachedKind{}, fmt.Errorf("watching %ss %s: %w", kind, what, err)
	}
	withIndexer, ok := informer.(interface{ GetIndexer() toolscache.Indexer })
	if !ok {
		return cachedKind{}, fmt.Errorf("the cache's informer of %ss (%T) has no indexer to read %s; "+
			"run serve with the manager's own cache", kind, informer, what)
	}
	// An informer already running (the account reconciler's) indexes
	// what it holds as the indexers are added.
	if indexers != nil {
		if err := informer.AddIndexers(indexers); err != nil {
			return cachedKind{}, fmt.Errorf("indexing %ss %s: %w", kind, what, err)
		}
	}
	return cachedKind{kind: kind, indexer: withIndexer.GetIndexer(), synced: informer.HasSynced}, nil
}

// newCollisions reads indexers (each with collisionIndexers) as the given
// kinds, in order, all synced.
func newCollisions(kinds []string, indexers []toolscache.Indexer) *Collisions {
	read := make([]cachedKind, 0, len(kinds))
	for i, k := range kinds {
		read = append(read, cachedKind{kind: k, indexer: indexers[i], synced: func() bool { return true }})
	}
	c := &Collisions{}
	c.kinds.Store(&read)
	return c
}

// read returns the kinds c reads now.
func (c *Collisions) read() []cachedKind {
	if kinds := c.kinds.Load(); kinds != nil {
		return *kinds
	}
	return nil
}

// ValidatingWithCollisions is Validating that also denies a cluster whose
// cluster-id or HA storage path another cluster in c already uses.
func ValidatingWithCollisions(p *policy.Policy, checker AccessChecker, c *Collisions) admission.Handler {
	return &validator{policy: p, collisions: c, hold: holdingFor(p, checker)}
}

// collisionTimeout bounds the wait for a kind's informer to finish its
// first sync; a review that comes before (a replica still starting) is
// warned, never denied. Once synced, a look-up never waits.
const collisionTimeout = time.Second

// SetupCollisions indexes ConfigMaps (their metadata), Deployments,
// StatefulSets, Jobs and, where their CRD is installed, FlinkDeployments
// in mgr's cache by the recorded annotations (WatchFlinkDeployments adds
// them later). The cache should keep those annotations in whatever it
// strips (accounts.CacheOptions does). It must run before mgr starts.
func SetupCollisions(ctx context.Context, mgr ctrl.Manager) (*Collisions, error) {
	configMaps := &metav1.PartialObjectMetadata{}
	configMaps.SetGroupVersionKind(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"})
	c := &Collisions{informers: mgr.GetCache()}
	for _, k := range []struct {
		kind string
		obj  client.Object
	}{
		{"ConfigMap", configMaps},
		{"Deployment", &appsv1.Deployment{}},
		{"StatefulSet", &appsv1.StatefulSet{}},
		{"Job", &batchv1.Job{}},
	} {
		if err := c.watch(ctx, k.kind, k.obj); err != nil {
			return nil, err
		}
	}
	if _, err := mgr.GetRESTMapper().RESTMapping(FlinkDeploymentKind, recognise.FlinkDeploymentGVK.Version); err == nil {
		if err := c.WatchFlinkDeployments(ctx); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// WatchFlinkDeployments adds FlinkDeployments to what c reads, once their
// CRD is installed; where c reads them already it does nothing. It is safe
// while reviews read c.
func (c *Collisions) WatchFlinkDeployments(ctx context.Context) error {
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(recognise.FlinkDeploymentGVK)
	return c.watch(ctx, FlinkDeploymentKind.Kind, obj)
}

// watch adds the informer of obj, with collisionIndexers, to what c reads
// as kind, unless c reads kind already.
func (c *Collisions) watch(ctx context.Context, kind string, obj client.Object) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.read()
	if slices.ContainsFunc(old, func(k cachedKind) bool { return k.kind == kind }) {
		return nil
	}
	k, err := cached(ctx, c.informers, kind, "for the collision check", obj, collisionIndexers)
	if err != nil {
		return err
	}
	kinds := append(slices.Clip(old), k)
	c.kinds.Store(&kinds)
	return nil
}

// check reports the clusters other than the object's own that already use
// its cluster-id (in its namespace) or its HA storage path (anywhere). obj
// is the object as the rules decoded it.
func (c *Collisions) check(ctx context.Context, obj metav1.Object, namespace string, p *policy.Policy) (field.ErrorList, []string) {
	if c == nil || obj == nil || p.Exempt(namespace) {
		return nil, nil
	}
	id, ok := fleet.Identify(obj, nil)
	if !ok {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, collisionTimeout)
	defer cancel()
	annotations := field.NewPath("metadata", "annotations")
	var errs field.ErrorList
	if id.ClusterID != "" {
		other, err := c.other(ctx, id, clusterIDKey(id.Namespace, id.ClusterID), false)
		if err != nil {
			return nil, []string{fmt.Sprintf("could not check whether another cluster uses cluster-id %q: %v", id.ClusterID, err)}
		}
		if other != "" {
			errs = append(errs, field.Invalid(annotations.Key(AnnotationClusterID), id.ClusterID, fmt.Sprintf(
				"cluster-id %q is already used by %s in namespace %s: two clusters with one cluster-id fight over leadership and "+
					"recover each other's jobs; give this cluster another kubernetes.cluster-id (a FlinkDeployment's is its name)",
				id.ClusterID, other, id.Namespace)))
		}
	}
	if id.StoragePath != "" {
		other, err := c.other(ctx, id, storagePathKey(id.StoragePath), true)
		if err != nil {
			return errs, []string{fmt.Sprintf("could not check whether another cluster uses HA storage path %s: %v", id.StoragePath, err)}
		}
		if other != "" {
			errs = append(errs, field.Invalid(annotations.Key(AnnotationStoragePath), id.StoragePath, fmt.Sprintf(
				"HA storage path %s is already used by %s: clusters sharing it overwrite each other's job graphs and checkpoint "+
					"pointers; give this cluster its own high-availability.storageDir or high-availability.cluster-id", id.StoragePath, other)))
		}
	}
	return errs, nil
}

// other names the first object of another cluster indexed under key: not
// the object itself (a re-apply), not an object of its own cluster. With
// inNamespace it says where that object is. A kind whose informer has not
// synced yet is waited for until ctx ends, then it is an error.
func (c *Collisions) other(ctx context.Context, id fleet.Identity, key string, inNamespace bool) (string, error) {
	selfKind, selfName, _ := strings.Cut(id.Object, "/")
	for _, k := range c.read() {
		if !k.synced() && !toolscache.WaitForCacheSync(ctx.Done(), k.synced) {
			return "", fmt.Errorf("the cache of %ss has not synced yet", k.kind)
		}
		objs, err := k.indexer.ByIndex(collisionIndex, key)
		if err != nil {
			return "", err
		}
		// Read only: these are the cache's own objects.
		for _, ro := range objs {
			o, ok := ro.(metav1.Object)
			if !ok {
				continue
			}
			if self := k.kind == selfKind && o.GetName() == selfName && o.GetNamespace() == id.Namespace; self {
				continue
			}
			if annotation(o, AnnotationCluster) == id.Key {
				continue
			}
			where := k.kind + "/" + o.GetName()
			if inNamespace {
				where += " in namespace " + o.GetNamespace()
			}
			return where, nil
		}
	}
	return "", nil
}

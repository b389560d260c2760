package handler

import (
	"context"
	"fmt"
	"strings"
	"time"

	gomodulesjsonpatch "gomodules.xyz/jsonpatch/v2"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/flink-ha-webhook/flink-ha-webhook/fleet"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
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
		return &mutator{policy: m.policy, record: true}
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

// Field indexes of the metadata-only cache.
const (
	indexClusterID   = "flink-ha-webhook.clusterID"
	indexStoragePath = "flink-ha-webhook.storagePath"
)

// Collisions answers, from the manager's cache of the objects that can
// define Flink clusters indexed by the recorded annotations, which other
// cluster already uses a cluster-id or an HA storage path. It reads the
// same informers as the account reconciler (workloads as typed objects,
// FlinkDeployments as unstructured ones, both slimmed by the cache's
// transforms to what the two read) and ConfigMaps' metadata, which the
// safety net watches too: one watch per kind.
type Collisions struct {
	reader client.Reader
	kinds  []collisionKind
}

type collisionKind struct {
	kind string
	obj  client.Object
	list func() client.ObjectList
}

// ValidatingWithCollisions is Validating that also denies a cluster whose
// cluster-id or HA storage path another cluster in c already uses.
func ValidatingWithCollisions(p *policy.Policy, checker AccessChecker, c *Collisions) admission.Handler {
	return &validator{policy: p, checker: checker, collisions: c}
}

// collisionTimeout bounds a look-up in the cache; one that takes longer
// (a cache still syncing) is a warning, never a denial.
const collisionTimeout = time.Second

// SetupCollisions indexes ConfigMaps (their metadata), Deployments,
// StatefulSets, Jobs and, where their CRD is installed, FlinkDeployments
// in mgr's cache by the recorded annotations. The cache should keep those
// annotations in whatever it strips (accounts.CacheOptions does).
func SetupCollisions(ctx context.Context, mgr ctrl.Manager) (*Collisions, error) {
	configMaps := &metav1.PartialObjectMetadata{}
	configMaps.SetGroupVersionKind(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"})
	c := &Collisions{reader: mgr.GetCache(), kinds: []collisionKind{
		{"ConfigMap", configMaps, func() client.ObjectList {
			l := &metav1.PartialObjectMetadataList{}
			l.SetGroupVersionKind(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMapList"})
			return l
		}},
		{"Deployment", &appsv1.Deployment{}, func() client.ObjectList { return &appsv1.DeploymentList{} }},
		{"StatefulSet", &appsv1.StatefulSet{}, func() client.ObjectList { return &appsv1.StatefulSetList{} }},
		{"Job", &batchv1.Job{}, func() client.ObjectList { return &batchv1.JobList{} }},
	}}
	fd := FlinkDeploymentKind.WithVersion("v1beta1")
	if _, err := mgr.GetRESTMapper().RESTMapping(FlinkDeploymentKind, fd.Version); err == nil {
		obj := &unstructured.Unstructured{}
		obj.SetGroupVersionKind(fd)
		c.kinds = append(c.kinds, collisionKind{fd.Kind, obj, func() client.ObjectList {
			l := &unstructured.UnstructuredList{}
			l.SetGroupVersionKind(fd.GroupVersion().WithKind(fd.Kind + "List"))
			return l
		}})
	}
	for _, k := range c.kinds {
		for index, annotation := range map[string]string{indexClusterID: AnnotationClusterID, indexStoragePath: AnnotationStoragePath} {
			err := mgr.GetFieldIndexer().IndexField(ctx, k.obj, index, func(o client.Object) []string {
				if v := o.GetAnnotations()[annotation]; v != "" {
					return []string{v}
				}
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("indexing %s metadata: %w", k.kind, err)
			}
		}
	}
	return c, nil
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
		other, err := c.other(ctx, id, indexClusterID, id.ClusterID, client.InNamespace(id.Namespace))
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
		other, err := c.other(ctx, id, indexStoragePath, id.StoragePath)
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

// other names the first object of another cluster whose index holds value:
// not the object itself (a re-apply), not an object of its own cluster.
func (c *Collisions) other(ctx context.Context, id fleet.Identity, index, value string, opts ...client.ListOption) (string, error) {
	for _, k := range c.kinds {
		list := k.list()
		if err := c.reader.List(ctx, list, append(opts, client.MatchingFields{index: value}, client.UnsafeDisableDeepCopy)...); err != nil {
			return "", err
		}
		var where string
		// Read only: the cache's own objects (no deep copy).
		_ = meta.EachListItem(list, func(ro runtime.Object) error {
			o, ok := ro.(client.Object)
			if !ok || where != "" {
				return nil
			}
			self := k.kind+"/"+o.GetName() == id.Object && o.GetNamespace() == id.Namespace
			if self || o.GetAnnotations()[AnnotationCluster] == id.Key {
				return nil
			}
			where = k.kind + "/" + o.GetName()
			if index == indexStoragePath {
				where += " in namespace " + o.GetNamespace()
			}
			return nil
		})
		if where != "" {
			return where, nil
		}
	}
	return "", nil
}

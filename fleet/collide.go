package fleet

import (
	"cmp"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Clusters merges identities read from the objects of one cluster (same
// Key) into one per cluster, in a stable order: the JobManager's identity,
// which reads the mounted configuration too, with what it lacks filled in
// from the others.
func Clusters(ids []Identity) []Identity {
	byKey := map[string]int{}
	var out []Identity
	for _, id := range ids {
		i, ok := byKey[id.Key]
		if !ok {
			byKey[id.Key] = len(out)
			out = append(out, id)
			continue
		}
		have := &out[i]
		if id.JobManager && !have.JobManager {
			id, *have = *have, id // the JobManager's reading wins; the other fills gaps
		}
		fill(&have.ClusterID, id.ClusterID)
		fill(&have.StorageDir, id.StorageDir)
		fill(&have.StoragePath, id.StoragePath)
		fill(&have.Account, id.Account)
		if have.HA == HAOff && id.HA != HAOff && !have.JobManager {
			have.HA = id.HA
		}
		if r, ok := have.Versions.Intersect(id.Versions); ok {
			have.Versions = r
		}
	}
	slices.SortStableFunc(out, func(a, b Identity) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.ClusterID, b.ClusterID), cmp.Compare(a.Object, b.Object))
	})
	return out
}

func fill(s *string, v string) {
	if *s == "" {
		*s = v
	}
}

// CollisionKind says what two clusters share.
type CollisionKind string

// The kinds of collision.
const (
	// SameClusterID is two clusters of one namespace with one
	// kubernetes.cluster-id: they fight over leadership and recover each
	// other's jobs.
	SameClusterID CollisionKind = "cluster-id"
	// SameStoragePath is two clusters anywhere with one HA storage path:
	// they overwrite each other's job graphs and checkpoint pointers.
	SameStoragePath CollisionKind = "storage-path"
)

// Collision is two clusters that share what must be theirs alone.
type Collision struct {
	Kind  CollisionKind `json:"kind"`
	Value string        `json:"value"`
	// First is the cluster seen first (in Clusters' order), Second the one
	// that collides with it.
	First  Ref `json:"first"`
	Second Ref `json:"second"`
}

// Ref names a cluster by the object that defines it.
type Ref struct {
	Namespace string `json:"namespace"`
	Object    string `json:"object"`
}

func (r Ref) String() string { return r.Object + " in namespace " + r.Namespace }

func refOf(id Identity) Ref { return Ref{Namespace: id.Namespace, Object: id.Object} }

// Message says what the collision breaks and how to fix it, naming both
// clusters.
func (c Collision) Message() string {
	if c.Kind == SameClusterID {
		return fmt.Sprintf("%s and %s both use cluster-id %q: two clusters with one cluster-id in a namespace fight over "+
			"leadership and recover each other's jobs; give one of them another kubernetes.cluster-id (a FlinkDeployment's is its name)",
			c.Second, c.First, c.Value)
	}
	return fmt.Sprintf("%s and %s both keep their HA data in %s: they overwrite each other's job graphs and checkpoint pointers; "+
		"give each its own high-availability.storageDir or high-availability.cluster-id", c.Second, c.First, c.Value)
}

// Collisions finds clusters (as Clusters merges them) that share a
// cluster-id in one namespace or an HA storage path anywhere. Each later
// cluster is reported against the first that used the value, so n
// clusters sharing one value give n-1 collisions.
func Collisions(clusters []Identity) []Collision {
	var out []Collision
	ids := map[[2]string]Identity{}
	paths := map[string]Identity{}
	for _, c := range clusters {
		if c.ClusterID != "" {
			k := [2]string{c.Namespace, c.ClusterID}
			if first, ok := ids[k]; ok && first.Key != c.Key {
				out = append(out, Collision{Kind: SameClusterID, Value: c.ClusterID, First: refOf(first), Second: refOf(c)})
			} else if !ok {
				ids[k] = c
			}
		}
		if c.StoragePath != "" {
			if first, ok := paths[c.StoragePath]; ok && first.Key != c.Key {
				out = append(out, Collision{Kind: SameStoragePath, Value: c.StoragePath, First: refOf(first), Second: refOf(c)})
			} else if !ok {
				paths[c.StoragePath] = c
			}
		}
	}
	return out
}

// Index resolves ConfigMaps among a set of objects, per namespace, for
// Identify.
type Index map[string]*corev1.ConfigMap

// Add remembers obj if it is a ConfigMap.
func (x Index) Add(obj metav1.Object) {
	if cm, ok := obj.(*corev1.ConfigMap); ok {
		x[cm.Namespace+"/"+cm.Name] = cm
	}
}

// In returns the lookup of namespace's ConfigMaps.
func (x Index) In(namespace string) ConfigMaps {
	return func(name string) *corev1.ConfigMap { return x[namespace+"/"+name] }
}

// IdentifyAll reads the identities of objs, resolving mounted ConfigMaps
// among them, and merges them into clusters.
func IdentifyAll(objs []metav1.Object) []Identity {
	x := Index{}
	for _, o := range objs {
		x.Add(o)
	}
	var ids []Identity
	for _, o := range objs {
		if id, ok := Identify(o, x.In(o.GetNamespace())); ok {
			ids = append(ids, id)
		}
	}
	return Clusters(ids)
}

package handler

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flink-ha-webhook/flink-ha-webhook/recognise"
)

// mountIndex indexes workloads by the ConfigMap their standalone Flink
// pods mount read-only as Flink's configuration, as "<namespace>/<name>".
const mountIndex = "flink-ha-webhook.mounts"

func mountKey(namespace, name string) string { return namespace + "/" + name }

var mountIndexers = toolscache.Indexers{mountIndex: mountKeys}

func mountKeys(obj any) ([]string, error) {
	if tombstone, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	kind, meta, tpl := workloadParts(obj)
	if kind == "" {
		return nil, nil
	}
	if cm := mountedConfigMap(meta, tpl); cm != "" {
		return []string{mountKey(meta.Namespace, cm)}, nil
	}
	return nil, nil
}

// workloadParts is the kind, metadata and pod template of a workload the
// rules handle; kind is "" for any other object.
func workloadParts(obj any) (kind string, meta *metav1.ObjectMeta, tpl *corev1.PodTemplateSpec) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return "Deployment", &o.ObjectMeta, &o.Spec.Template
	case *appsv1.StatefulSet:
		return "StatefulSet", &o.ObjectMeta, &o.Spec.Template
	case *batchv1.Job:
		return "Job", &o.ObjectMeta, &o.Spec.Template
	}
	return "", nil, nil
}

// mountedConfigMap names the ConfigMap a standalone Flink pod template of
// the user's own (not native, not the operator's) mounts read-only as its
// configuration; "" for any other template.
func mountedConfigMap(meta *metav1.ObjectMeta, tpl *corev1.PodTemplateSpec) string {
	pod, ok := recognise.PodTemplate(meta.Labels, tpl)
	if !ok || pod.Native || pod.Operator {
		return ""
	}
	return pod.Mount.ConfigMap
}

// Mounts finds, in the manager's cache, the workloads whose Flink pods
// mount a ConfigMap as their configuration: with it, one standalone
// cluster, whose accounts decide whether HA is held back for all of them
// (MutatingHoldingBack). The cache keeps what it reads of workloads
// (accounts.CacheOptions); each workload informer carries one index of
// its own (mountIndex), so a look-up costs a map access per kind.
type Mounts struct {
	kinds []cachedKind
	// configMaps is the cache of ConfigMaps' metadata, for RecordedHA.
	configMaps cachedKind
}

// MountingWorkload is a workload as the cache keeps it.
type MountingWorkload struct {
	Kind     string
	Meta     *metav1.ObjectMeta
	Template *corev1.PodTemplateSpec
}

// SetupMounts indexes Deployments, StatefulSets and Jobs in mgr's cache by
// the ConfigMap their Flink pods mount. It must run before mgr starts.
func SetupMounts(ctx context.Context, mgr ctrl.Manager) (*Mounts, error) {
	m := &Mounts{}
	for _, w := range []struct {
		kind string
		obj  client.Object
	}{
		{"Deployment", &appsv1.Deployment{}},
		{"StatefulSet", &appsv1.StatefulSet{}},
		{"Job", &batchv1.Job{}},
	} {
		k, err := cached(ctx, mgr.GetCache(), w.kind, "for the ConfigMaps they mount", w.obj, mountIndexers)
		if err != nil {
			return nil, err
		}
		m.kinds = append(m.kinds, k)
	}
	configMaps := &metav1.PartialObjectMetadata{}
	configMaps.SetGroupVersionKind(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"})
	var err error
	if m.configMaps, err = cached(ctx, mgr.GetCache(), "ConfigMap", "for their recorded HA", configMaps, nil); err != nil {
		return nil, err
	}
	return m, nil
}

// newMounts reads indexers (each with mountIndexers) as the given kinds,
// and configMaps as ConfigMaps' metadata, all synced.
func newMounts(kinds []string, indexers []toolscache.Indexer, configMaps toolscache.Indexer) *Mounts {
	m := &Mounts{configMaps: cachedKind{kind: "ConfigMap", indexer: configMaps, synced: func() bool { return true }}}
	for i, k := range kinds {
		m.kinds = append(m.kinds, cachedKind{kind: k, indexer: indexers[i], synced: func() bool { return true }})
	}
	return m
}

// Mounting returns the workloads in namespace whose Flink pods mount the
// ConfigMap name as their configuration, as the cache keeps them (read
// only). A kind whose informer has not synced yet (a replica starting)
// gives none: nothing is held back for want of it.
func (m *Mounts) Mounting(namespace, name string) []MountingWorkload {
	if m == nil {
		return nil
	}
	var out []MountingWorkload
	for _, k := range m.kinds {
		if !k.synced() {
			continue
		}
		objs, err := k.indexer.ByIndex(mountIndex, mountKey(namespace, name))
		if err != nil {
			continue
		}
		for _, o := range objs {
			if kind, meta, tpl := workloadParts(o); kind != "" {
				out = append(out, MountingWorkload{Kind: kind, Meta: meta, Template: tpl})
			}
		}
	}
	return out
}

// RecordedHA reports whether the ConfigMap name in namespace was last
// admitted as a configuration with Kubernetes HA: whether it records an HA
// storage path (AnnotationStoragePath), which only a configuration with HA
// on has. A ConfigMap admitted before the webhook records nothing.
func (m *Mounts) RecordedHA(namespace, name string) bool {
	if m == nil || m.configMaps.indexer == nil || !m.configMaps.synced() {
		return false
	}
	o, ok, err := m.configMaps.indexer.GetByKey(namespace + "/" + name)
	if err != nil || !ok {
		return false
	}
	cm, ok := o.(metav1.Object)
	return ok && annotation(cm, AnnotationStoragePath) != ""
}

package fleet

import (
	"encoding/json"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/flink-ha-webhook/flink-ha-webhook/recognise"
)

// Decode reads the JSON of an object of a kind Identify knows; nil for
// other kinds. An object without a namespace gets namespace.
func Decode(gk schema.GroupKind, raw []byte, namespace string) (metav1.Object, error) {
	var obj metav1.Object
	switch gk {
	case schema.GroupKind{Kind: "ConfigMap"}:
		obj = &corev1.ConfigMap{}
	case schema.GroupKind{Group: "apps", Kind: "Deployment"}:
		obj = &appsv1.Deployment{}
	case schema.GroupKind{Group: "apps", Kind: "StatefulSet"}:
		obj = &appsv1.StatefulSet{}
	case schema.GroupKind{Group: "batch", Kind: "Job"}:
		obj = &batchv1.Job{}
	case recognise.FlinkDeploymentKind:
		obj = &unstructured.Unstructured{}
	default:
		return nil, nil
	}
	if err := json.Unmarshal(raw, obj); err != nil {
		return nil, fmt.Errorf("decoding the %s: %w", gk.Kind, err)
	}
	if obj.GetNamespace() == "" {
		obj.SetNamespace(namespace)
	}
	return obj, nil
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

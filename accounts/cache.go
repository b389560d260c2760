package accounts

import (
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// CacheOptions keeps the manager's caches of what this package watches
// small: of ServiceAccounts and RoleBindings only those it manages, of workloads only their
// name, pod account and the annotations the webhook records.
func CacheOptions() map[client.Object]cache.ByObject {
	slim := func(o any) (any, error) {
		switch o := o.(type) {
		case *appsv1.Deployment:
			return &appsv1.Deployment{ObjectMeta: slimMeta(o.ObjectMeta), Spec: appsv1.DeploymentSpec{Template: slimTemplate(o.Spec.Template)}}, nil
		case *appsv1.StatefulSet:
			return &appsv1.StatefulSet{ObjectMeta: slimMeta(o.ObjectMeta), Spec: appsv1.StatefulSetSpec{Template: slimTemplate(o.Spec.Template)}}, nil
		case *batchv1.Job:
			return &batchv1.Job{ObjectMeta: slimMeta(o.ObjectMeta), Spec: batchv1.JobSpec{Template: slimTemplate(o.Spec.Template)}}, nil
		}
		return o, nil
	}
	return map[client.Object]cache.ByObject{
		&corev1.ServiceAccount{}: {Label: labels.SelectorFromSet(managedLabels)},
		&rbacv1.RoleBinding{}:    {Label: labels.SelectorFromSet(managedLabels)},
		&appsv1.Deployment{}:     {Transform: slim},
		&appsv1.StatefulSet{}:    {Transform: slim},
		&batchv1.Job{}:           {Transform: slim},
	}
}

// Transform is the default transform of the manager's cache, for what
// CacheOptions cannot name. A FlinkDeployment (whose CRD may be missing)
// keeps only its name, account and recorded annotations, as workloads do
// (CacheOptions). Objects watched as metadata (ConfigMaps, which the
// safety net and the collision check read; namespaces, whose labels
// select namespace policies) keep their names, labels and owner
// references, and of their annotations only the webhook's own: a
// ConfigMap applied with kubectl carries a copy of all its data in an
// annotation, and an HA ConfigMap Flink's leader record, renewed every few
// seconds. Everything else only loses its managed fields, which nothing
// reads. CacheOptions' own transforms take precedence.
func Transform() toolscache.TransformFunc {
	strip := cache.TransformStripManagedFields()
	return func(o any) (any, error) {
		switch o := o.(type) {
		case *unstructured.Unstructured:
			if o.GroupVersionKind().GroupKind() == FlinkDeploymentGVK.GroupKind() {
				return slimFlinkDeployment(o), nil
			}
		case *metav1.PartialObjectMetadata:
			return &metav1.PartialObjectMetadata{TypeMeta: o.TypeMeta, ObjectMeta: metav1.ObjectMeta{
				Name: o.Name, Namespace: o.Namespace, UID: o.UID, ResourceVersion: o.ResourceVersion,
				Labels: o.Labels, OwnerReferences: o.OwnerReferences, Annotations: recordedAnnotations(o.Annotations)}}, nil
		}
		return strip(o)
	}
}

func slimFlinkDeployment(u *unstructured.Unstructured) *unstructured.Unstructured {
	slim := &unstructured.Unstructured{Object: map[string]any{}}
	slim.SetGroupVersionKind(u.GroupVersionKind())
	slim.SetName(u.GetName())
	slim.SetNamespace(u.GetNamespace())
	slim.SetUID(u.GetUID())
	slim.SetResourceVersion(u.GetResourceVersion())
	slim.SetAnnotations(recordedAnnotations(u.GetAnnotations()))
	if sa := accountOf(u); sa != "" {
		_ = unstructured.SetNestedField(slim.Object, sa, "spec", "serviceAccount")
	}
	return slim
}

// recordedPrefix starts the annotations the webhook reads from its caches:
// those the mutating webhook records on Flink objects
// (handler.AnnotationCluster and the like), which the collision check
// indexes, and the opt-out (policy.AnnotationHA), which the safety net
// honours. Slimming keeps them.
const recordedPrefix = "flink-ha-webhook/"

func slimMeta(m metav1.ObjectMeta) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion,
		Annotations: recordedAnnotations(m.Annotations)}
}

func recordedAnnotations(all map[string]string) map[string]string {
	var kept map[string]string
	for k, v := range all {
		if strings.HasPrefix(k, recordedPrefix) {
			if kept == nil {
				kept = map[string]string{}
			}
			kept[k] = v
		}
	}
	return kept
}

func slimTemplate(t corev1.PodTemplateSpec) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{Spec: corev1.PodSpec{ServiceAccountName: t.Spec.ServiceAccountName}}
}

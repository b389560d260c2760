package accounts

import (
	"slices"
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

	"github.com/flink-ha-webhook/flink-ha-webhook/cluster"
	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
	"github.com/flink-ha-webhook/flink-ha-webhook/recognise"
)

// CacheOptions keeps the manager's caches of what this package watches
// small: of ServiceAccounts and RoleBindings only those it manages, of
// workloads only their name, pod account, the annotations the webhook
// records and, on the JobManager of a native cluster, the labels that
// mark it (nativeJobManager).
func CacheOptions() map[client.Object]cache.ByObject {
	slim := func(o any) (any, error) {
		switch o := o.(type) {
		case *appsv1.Deployment:
			return &appsv1.Deployment{ObjectMeta: slimMeta(o.ObjectMeta, &o.Spec.Template), Spec: appsv1.DeploymentSpec{Template: slimTemplate(o.Labels, o.Spec.Template)}}, nil
		case *appsv1.StatefulSet:
			return &appsv1.StatefulSet{ObjectMeta: slimMeta(o.ObjectMeta, &o.Spec.Template), Spec: appsv1.StatefulSetSpec{Template: slimTemplate(o.Labels, o.Spec.Template)}}, nil
		case *batchv1.Job:
			return &batchv1.Job{ObjectMeta: slimMeta(o.ObjectMeta, &o.Spec.Template), Spec: batchv1.JobSpec{Template: slimTemplate(o.Labels, o.Spec.Template)}}, nil
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
// keeps only its name, recorded annotations and what the accounts its
// roles run under and its mode are read from (slimFlinkDeployment).
// Objects watched as metadata (ConfigMaps, which the safety net and the
// collision check read; namespaces, whose labels select namespace
// policies) keep their names, labels and owner references, and of their
// annotations only the webhook's own: a ConfigMap applied with kubectl
// carries a copy of all its data in an annotation, and an HA ConfigMap
// Flink's leader record, renewed every few seconds. Everything else only
// loses its managed fields, which nothing reads. CacheOptions' own
// transforms take precedence.
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

// slimFlinkDeployment keeps of a FlinkDeployment its name, recorded
// annotations, spec.serviceAccount, its mode when standalone (runsNative)
// and, in a flat flinkConfiguration, each role's key whose account is not
// spec.serviceAccount's, resolved (an empty key is "default"): roleAccounts
// reads the same accounts of it as of the whole object, and the common
// FlinkDeployment, whose roles both run under spec.serviceAccount, keeps
// no configuration at all.
func slimFlinkDeployment(u *unstructured.Unstructured) *unstructured.Unstructured {
	slim := &unstructured.Unstructured{Object: map[string]any{}}
	slim.SetGroupVersionKind(u.GroupVersionKind())
	slim.SetName(u.GetName())
	slim.SetNamespace(u.GetNamespace())
	slim.SetUID(u.GetUID())
	slim.SetResourceVersion(u.GetResourceVersion())
	slim.SetAnnotations(recordedAnnotations(u.GetAnnotations()))
	// spec is made only when something goes into it: a FlinkDeployment
	// without an account keeps none.
	var spec map[string]any
	set := func(key string, v any) {
		if spec == nil {
			spec = map[string]any{}
			slim.Object["spec"] = spec
		}
		spec[key] = v
	}
	sa, _, _ := unstructured.NestedString(u.Object, "spec", "serviceAccount")
	if sa != "" {
		set("serviceAccount", sa)
	}
	jm, tm := roleAccounts(u)
	var conf map[string]any
	for _, role := range [...]struct{ key, account string }{
		{flinkconf.JobManagerServiceAccount.Key, jm}, {flinkconf.TaskManagerServiceAccount.Key, tm},
	} {
		if role.account != sa {
			if conf == nil {
				conf = map[string]any{}
				set("flinkConfiguration", conf)
			}
			conf[role.key] = role.account
		}
	}
	if !runsNative(u) {
		set("mode", cluster.OperatorStandalone)
	}
	return slim
}

// recordedPrefix starts the annotations the webhook reads from its caches:
// those the mutating webhook records on Flink objects
// (handler.AnnotationCluster and the like), which the collision check
// indexes, and the opt-out (policy.AnnotationHA), which the safety net
// honours. Slimming keeps them.
const recordedPrefix = "flink-ha-webhook/"

// slimMeta is what the cache keeps of the metadata of a workload whose
// pods tpl describes.
func slimMeta(m metav1.ObjectMeta, tpl *corev1.PodTemplateSpec) metav1.ObjectMeta {
	slim := metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion,
		Annotations: recordedAnnotations(m.Annotations)}
	// Only Flink's native type label can make one a native JobManager:
	// the other workloads are not looked into further.
	if m.Labels[labelType] != recognise.TypeNative && tpl.Labels[labelType] != recognise.TypeNative {
		return slim
	}
	if pod, ok := recognise.PodTemplate(m.Labels, tpl); ok && pod.Native && pod.Role == recognise.JobManager {
		slim.Labels = nativeJobManagerLabels
	}
	return slim
}

// nativeJobManagerLabels is all the cache keeps of the labels of a
// workload recognised as the JobManager of a native cluster: those of
// Flink's own that nativeJobManager reads. Every such object shares the
// one map, so marking them costs no memory; nothing changes what the
// cache holds (readers get deep copies).
var nativeJobManagerLabels = map[string]string{labelType: recognise.TypeNative, labelComponent: string(recognise.JobManager)}

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

// slimTemplate keeps of a pod template its account and, where it runs a
// standalone Flink pod of the user's own whose configuration is a mounted
// ConfigMap, what recognises that pod again as the same role of the same
// image on the same network, with that mount: the workloads mounting one
// ConfigMap are one cluster, and the accounts they run under decide
// whether the webhooks hold HA back for all of them (handler.Mounts).
func slimTemplate(objectLabels map[string]string, t corev1.PodTemplateSpec) corev1.PodTemplateSpec {
	slim := corev1.PodTemplateSpec{Spec: corev1.PodSpec{ServiceAccountName: t.Spec.ServiceAccountName}}
	pod, ok := recognise.PodTemplate(objectLabels, &t)
	if !ok || pod.Native || pod.Operator || pod.Mount.ConfigMap == "" {
		return slim
	}
	c := &t.Spec.Containers[pod.Container]
	// Named for its role under the role's label, the container is
	// recognised whatever its arguments, which are not kept.
	kept := corev1.Container{Name: string(pod.Role), Image: c.Image}
	for _, m := range c.VolumeMounts {
		i := slices.IndexFunc(t.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == m.Name })
		if i < 0 || t.Spec.Volumes[i].ConfigMap == nil && t.Spec.Volumes[i].Projected == nil {
			continue
		}
		kept.VolumeMounts = append(kept.VolumeMounts, m)
		if !slices.ContainsFunc(slim.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == m.Name }) {
			slim.Spec.Volumes = append(slim.Spec.Volumes, t.Spec.Volumes[i])
		}
	}
	slim.Labels = map[string]string{labelComponent: string(pod.Role)}
	slim.Spec.Containers = []corev1.Container{kept}
	slim.Spec.HostNetwork = t.Spec.HostNetwork
	return slim
}

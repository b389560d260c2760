// Package accounts makes the service account the webhook gives Flink pods
// real: in every namespace that runs a Flink cluster under it, the account
// exists, with a Role holding exactly the rights Flink's Kubernetes HA needs
// and a RoleBinding to it. It acts on stored objects only, so dry runs
// create nothing.
package accounts

import (
	"context"
	"fmt"
	"reflect"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
)

// ManagedBy labels what this package creates, and is what it may update.
const ManagedBy = "flink-ha-webhook"

var managedLabels = map[string]string{"app.kubernetes.io/managed-by": ManagedBy}

// Rules are the rights Flink's Kubernetes HA needs: leader election and job
// metadata in ConfigMaps of its namespace, written with PUT (Flink never
// patches), read and watched by JobManagers and TaskManagers.
var Rules = []rbacv1.PolicyRule{{
	APIGroups: []string{""},
	Resources: []string{"configmaps"},
	Verbs:     []string{"get", "list", "watch", "create", "update", "delete"},
}}

// Reconciler ensures the account, Role and RoleBinding of one namespace.
type Reconciler struct {
	Client client.Client
	// Reader reads accounts and RBAC objects without caching them all.
	Reader client.Reader
	Policy *policy.Policy
}

// Setup registers the reconciler: a Deployment, StatefulSet, Job or
// FlinkDeployment running under the policy's account puts its namespace in
// the queue. FlinkDeployments are watched only where their CRD is
// installed.
func Setup(mgr ctrl.Manager, p *policy.Policy) error {
	r := &Reconciler{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Policy: p}
	byNamespace := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		if !r.usesAccount(o) {
			return nil
		}
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: o.GetNamespace()}}}
	})
	b := ctrl.NewControllerManagedBy(mgr).
		Named("flink-service-accounts").
		For(&corev1.ServiceAccount{}). // ours (see CacheOptions): a deleted one is made again
		Watches(&appsv1.Deployment{}, byNamespace).
		Watches(&appsv1.StatefulSet{}, byNamespace).
		Watches(&batchv1.Job{}, byNamespace)
	fd := &unstructured.Unstructured{}
	fd.SetGroupVersionKind(FlinkDeploymentGVK)
	if _, err := mgr.GetRESTMapper().RESTMapping(FlinkDeploymentGVK.GroupKind(), FlinkDeploymentGVK.Version); err == nil {
		b = b.Watches(fd, byNamespace)
	} else {
		mgr.GetLogger().Info("not watching FlinkDeployments: their CRD is not installed", "reason", err.Error())
	}
	return b.Complete(reconcile.Func(func(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
		ns := req.Name
		if req.Namespace != "" { // an event of our own ServiceAccount
			ns = req.Namespace
		}
		return reconcile.Result{}, r.Ensure(ctx, ns)
	}))
}

// FlinkDeploymentGVK is the operator's cluster resource.
var FlinkDeploymentGVK = schema.GroupVersionKind{Group: "flink.apache.org", Version: "v1beta1", Kind: "FlinkDeployment"}

// CacheOptions keeps the manager's caches of what this package watches
// small: of ServiceAccounts only those it manages, of workloads only their
// name and pod account.
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
		&appsv1.Deployment{}:     {Transform: slim},
		&appsv1.StatefulSet{}:    {Transform: slim},
		&batchv1.Job{}:           {Transform: slim},
	}
}

func slimMeta(m metav1.ObjectMeta) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion}
}

func slimTemplate(t corev1.PodTemplateSpec) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{Spec: corev1.PodSpec{ServiceAccountName: t.Spec.ServiceAccountName}}
}

// usesAccount reports whether a watched object runs Flink pods under the
// policy's account.
func (r *Reconciler) usesAccount(o client.Object) bool {
	if r.Policy.Exempt(o.GetNamespace()) {
		return false
	}
	switch o := o.(type) {
	case *appsv1.Deployment:
		return o.Spec.Template.Spec.ServiceAccountName == r.Policy.ServiceAccount
	case *appsv1.StatefulSet:
		return o.Spec.Template.Spec.ServiceAccountName == r.Policy.ServiceAccount
	case *batchv1.Job:
		return o.Spec.Template.Spec.ServiceAccountName == r.Policy.ServiceAccount
	case *unstructured.Unstructured:
		sa, _, _ := unstructured.NestedString(o.Object, "spec", "serviceAccount")
		return sa == r.Policy.ServiceAccount
	}
	return false
}

// Ensure makes the account, Role and RoleBinding of namespace ns what they
// must be. Objects of the same names that this package did not create are
// left alone and reported.
func (r *Reconciler) Ensure(ctx context.Context, ns string) error {
	name := r.Policy.ServiceAccount
	log := logf.FromContext(ctx).WithValues("namespace", ns, "serviceAccount", name)

	sa := &corev1.ServiceAccount{}
	switch err := r.Reader.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, sa); {
	case apierrors.IsNotFound(err):
		sa = &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: managedLabels}}
		if err := r.Client.Create(ctx, sa); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating ServiceAccount %s/%s: %w", ns, name, err)
		}
		log.Info("created the service account Flink runs under")
	case err != nil:
		return err
	}

	role := &rbacv1.Role{}
	switch err := r.Reader.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, role); {
	case apierrors.IsNotFound(err):
		role = &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: managedLabels}, Rules: Rules}
		if err := r.Client.Create(ctx, role); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating Role %s/%s: %w", ns, name, err)
		}
		log.Info("created the Role of Flink's HA rights")
	case err != nil:
		return err
	case role.Labels["app.kubernetes.io/managed-by"] != ManagedBy:
		log.Info("a Role of this name exists and is not ours; leaving it as it is")
	case !reflect.DeepEqual(role.Rules, Rules):
		role.Rules = Rules
		if err := r.Client.Update(ctx, role); err != nil {
			return fmt.Errorf("updating Role %s/%s: %w", ns, name, err)
		}
		log.Info("restored the Role of Flink's HA rights")
	}

	want := rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: managedLabels},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: ns}},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
	}
	rb := &rbacv1.RoleBinding{}
	switch err := r.Reader.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, rb); {
	case apierrors.IsNotFound(err):
		if err := r.Client.Create(ctx, want.DeepCopy()); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating RoleBinding %s/%s: %w", ns, name, err)
		}
		log.Info("bound the service account to the Role")
	case err != nil:
		return err
	case rb.Labels["app.kubernetes.io/managed-by"] != ManagedBy:
		log.Info("a RoleBinding of this name exists and is not ours; leaving it as it is")
	case rb.RoleRef != want.RoleRef:
		// roleRef cannot change: replace the binding.
		if err := r.Client.Delete(ctx, rb); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		if err := r.Client.Create(ctx, want.DeepCopy()); err != nil {
			return fmt.Errorf("recreating RoleBinding %s/%s: %w", ns, name, err)
		}
	case !reflect.DeepEqual(rb.Subjects, want.Subjects):
		rb.Subjects = want.Subjects
		if err := r.Client.Update(ctx, rb); err != nil {
			return fmt.Errorf("updating RoleBinding %s/%s: %w", ns, name, err)
		}
	}
	return nil
}

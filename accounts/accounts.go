// Package accounts makes the service account the webhook gives Flink pods
// real: in every namespace that runs a Flink cluster under it, the account
// exists, bound to the install's ClusterRoles holding exactly the rights
// Flink needs (package rights): standalone Flink's always, native Flink's
// while a FlinkDeployment runs under the account. It acts on stored objects
// only, so dry runs create nothing.
package accounts

import (
	"context"
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
	"github.com/flink-ha-webhook/flink-ha-webhook/rights"
)

// ManagedBy labels what this package creates, and is what it may update.
const ManagedBy = "flink-ha-webhook"

var managedLabels = map[string]string{managedByLabel: ManagedBy}

// DefaultClusterRolePrefix names the ClusterRoles of Flink's rights that
// manifests/rbac.yaml installs (rights.ClusterRole).
const DefaultClusterRolePrefix = "flink-ha-webhook"

// Reconciler ensures the account and RoleBindings of one namespace.
type Reconciler struct {
	Client client.Client
	// Reader reads accounts and RBAC objects without caching them all.
	Reader client.Reader
	Policy *policy.Policy
	// ClusterRolePrefix names the install's ClusterRoles of Flink's rights.
	ClusterRolePrefix string
}

// Setup registers the reconciler: a Deployment, StatefulSet, Job or
// FlinkDeployment running under the policy's account puts its namespace in
// the queue. FlinkDeployments are watched only where their CRD is
// installed.
func Setup(mgr ctrl.Manager, p *policy.Policy, clusterRolePrefix string) error {
	r := &Reconciler{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Policy: p, ClusterRolePrefix: clusterRolePrefix}
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

// Ensure makes the account and its RoleBindings in namespace ns what they
// must be: the account bound to the install's ClusterRole of standalone
// Flink's rights, and while a FlinkDeployment runs under it (native mode)
// also to the one of native Flink's rights. Objects of the same names that
// this package did not create are left alone and reported.
func (r *Reconciler) Ensure(ctx context.Context, ns string) error {
	name := r.Policy.ServiceAccount
	log := logf.FromContext(ctx).WithValues("namespace", ns, "serviceAccount", name)
	c := uncached{Client: r.Client, reader: r.Reader}

	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	// An account of that name someone else made is used as it is, and
	// bound like ours: Flink runs under it all the same.
	if err := ensure(ctx, c, sa, func() error { return nil }); err != nil && !errors.Is(err, errNotOurs) {
		return r.report(ctx, err, "ServiceAccount", ns, name)
	}

	native, err := r.runsNative(ctx, ns)
	if err != nil {
		return err
	}
	for _, m := range []rights.Mode{rights.Standalone, rights.Native} {
		rb := r.binding(ns, m)
		if m == rights.Native && !native {
			if err := r.unbind(ctx, c, rb); err != nil {
				return err
			}
			continue
		}
		if err := r.bind(ctx, c, rb); err != nil {
			return r.report(ctx, err, "RoleBinding", ns, rb.Name)
		}
	}
	log.V(1).Info("ensured the account Flink runs under", "native", native)
	return nil
}

// binding is the RoleBinding of mode m's rights to the policy's account.
func (r *Reconciler) binding(ns string, m rights.Mode) *rbacv1.RoleBinding {
	name := r.Policy.ServiceAccount
	if m == rights.Native {
		name += "-native"
	}
	return &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: managedLabels},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: r.Policy.ServiceAccount, Namespace: ns}},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: rights.ClusterRole(r.ClusterRolePrefix, m)},
	}
}

// bind creates or restores want. A roleRef cannot change: a binding of
// ours that points elsewhere (an older install bound a Role) is replaced.
func (r *Reconciler) bind(ctx context.Context, c client.Client, want *rbacv1.RoleBinding) error {
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: want.Namespace, Name: want.Name}}
	mutate := func() error {
		if rb.ResourceVersion == "" {
			rb.RoleRef = want.RoleRef
		} else if rb.RoleRef != want.RoleRef {
			return errRoleRefChanged
		}
		rb.Subjects = want.Subjects
		return nil
	}
	err := ensure(ctx, c, rb, mutate)
	if !errors.Is(err, errRoleRefChanged) {
		return err
	}
	if err := c.Delete(ctx, rb, client.Preconditions{UID: &rb.UID}); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("replacing RoleBinding %s/%s, whose roleRef cannot change: %w", rb.Namespace, rb.Name, err)
	}
	logf.FromContext(ctx).Info("replaced a RoleBinding whose roleRef had changed", "namespace", rb.Namespace, "name", rb.Name, "was", rb.RoleRef.Kind+"/"+rb.RoleRef.Name)
	old := rb.RoleRef
	rb = &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: want.Namespace, Name: want.Name}}
	if err := ensure(ctx, c, rb, mutate); err != nil {
		return err
	}
	if old.Kind == "Role" {
		return r.removeRole(ctx, c, want.Namespace, old.Name)
	}
	return nil
}

// removeRole deletes a Role of ours that an older install bound Flink's
// account to; its rules (without patch) are no longer anyone's.
func (r *Reconciler) removeRole(ctx context.Context, c client.Client, ns, name string) error {
	role := &rbacv1.Role{}
	err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, role)
	if apierrors.IsNotFound(err) || err == nil && role.Labels[managedByLabel] != ManagedBy {
		return nil
	}
	if err != nil {
		return err
	}
	if err := c.Delete(ctx, role, client.Preconditions{UID: &role.UID}); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("removing the Role %s/%s an older install made: %w", ns, name, err)
	}
	logf.FromContext(ctx).Info("removed the Role an older install made for Flink", "namespace", ns, "name", name)
	return nil
}

// unbind removes a binding of ours that is no longer needed.
func (r *Reconciler) unbind(ctx context.Context, c client.Client, rb *rbacv1.RoleBinding) error {
	got := &rbacv1.RoleBinding{}
	err := c.Get(ctx, client.ObjectKeyFromObject(rb), got)
	if apierrors.IsNotFound(err) || err == nil && got.Labels[managedByLabel] != ManagedBy {
		return nil
	}
	if err != nil {
		return err
	}
	if err := c.Delete(ctx, got, client.Preconditions{UID: &got.UID}); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("removing RoleBinding %s/%s: %w", got.Namespace, got.Name, err)
	}
	logf.FromContext(ctx).Info("removed the binding of native Flink's rights: no FlinkDeployment runs under the account", "namespace", got.Namespace, "name", got.Name)
	return nil
}

// runsNative reports whether a FlinkDeployment in ns runs under the
// policy's account. Without their CRD there are none.
func (r *Reconciler) runsNative(ctx context.Context, ns string) (bool, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(FlinkDeploymentGVK.GroupVersion().WithKind(FlinkDeploymentGVK.Kind + "List"))
	if err := r.Client.List(ctx, list, client.InNamespace(ns)); err != nil {
		if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("listing FlinkDeployments in %s: %w", ns, err)
	}
	for i := range list.Items {
		if r.usesAccount(&list.Items[i]) {
			return true, nil
		}
	}
	return false, nil
}

// report logs an object that is not ours and carries on; other errors
// are returned for a retry.
func (r *Reconciler) report(ctx context.Context, err error, kind, ns, name string) error {
	if errors.Is(err, errNotOurs) {
		logf.FromContext(ctx).Info("an object of this name exists and is not ours; leaving it as it is", "kind", kind, "namespace", ns, "name", name)
		return nil
	}
	return fmt.Errorf("ensuring %s %s/%s: %w", kind, ns, name, err)
}

var (
	errNotOurs        = errors.New("not managed by " + ManagedBy)
	errRoleRefChanged = errors.New("roleRef changed")
)

const managedByLabel = "app.kubernetes.io/managed-by"

// ensure is controllerutil.CreateOrUpdate with the guard that protects
// users' objects: an existing object without our label is not touched
// (errNotOurs). A new one gets our label.
func ensure(ctx context.Context, c client.Client, obj client.Object, mutate func() error) error {
	_, err := controllerutil.CreateOrUpdate(ctx, c, obj, func() error {
		if obj.GetResourceVersion() == "" {
			labels := obj.GetLabels()
			if labels == nil {
				labels = map[string]string{}
			}
			labels[managedByLabel] = ManagedBy
			obj.SetLabels(labels)
		} else if obj.GetLabels()[managedByLabel] != ManagedBy {
			return errNotOurs
		}
		return mutate()
	})
	if apierrors.IsAlreadyExists(err) {
		return nil // made in between; the next event looks again
	}
	return err
}

// uncached reads with the API reader, so that the objects Ensure looks at
// are not all cached.
type uncached struct {
	client.Client
	reader client.Reader
}

func (u uncached) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	return u.reader.Get(ctx, key, obj, opts...)
}

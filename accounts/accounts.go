// Package accounts makes the service account the webhook gives Flink pods
// real: in every namespace that runs a Flink cluster under it, the account
// exists, bound to the install's ClusterRoles holding exactly the rights
// Flink needs (package rights): standalone Flink's always, native Flink's
// while the JobManager of a native cluster runs under the account (that of
// a FlinkDeployment in native mode, or one Flink's own client made). A
// FlinkDeployment's JobManager and TaskManagers each run under their own
// key of flinkConfiguration where set, else under spec.serviceAccount
// (cluster.FlinkDeploymentObject.RoleAccounts). It acts on stored objects
// only, so dry runs create nothing.
package accounts

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/flink-ha-webhook/flink-ha-webhook/cluster"
	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
	"github.com/flink-ha-webhook/flink-ha-webhook/nspolicy"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
	"github.com/flink-ha-webhook/flink-ha-webhook/recognise"
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
	// Policy is the policy file's.
	Policy *policy.Policy
	// PolicyFor returns the policy of a namespace where FlinkHAPolicies
	// apply (nspolicy.Live.For); nil: Policy applies everywhere.
	PolicyFor func(ctx context.Context, namespace string) (*policy.Policy, error)
	// ClusterRolePrefix names the install's ClusterRoles of Flink's rights.
	ClusterRolePrefix string
}

// Setup registers the reconciler: a Deployment, StatefulSet, Job or
// FlinkDeployment running under the account of its namespace's policy puts
// its namespace in the queue. FlinkDeployments are watched where their CRD
// is installed, or once it is (Controller.WatchFlinkDeployments). With
// live namespace policies (live not nil) a change of a FlinkHAPolicy or of
// a namespace's labels, and a workload's deletion, also do, so the account
// follows the namespace's policy without a restart.
func Setup(mgr ctrl.Manager, p *policy.Policy, live *nspolicy.Live, clusterRolePrefix string) (*Controller, error) {
	r := &Reconciler{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Policy: p, ClusterRolePrefix: clusterRolePrefix}
	if live != nil {
		r.PolicyFor = live.For
	}
	byNamespace := r.workloadEvents(live != nil)
	b := ctrl.NewControllerManagedBy(mgr).
		Named("flink-service-accounts").
		WithOptions(controller.Options{RateLimiter: retries()}).
		For(&corev1.ServiceAccount{}).                 // ours (see CacheOptions): a deleted one is made again
		Watches(&rbacv1.RoleBinding{}, bindingEvents). // ours (see CacheOptions)
		Watches(&appsv1.Deployment{}, byNamespace).
		Watches(&appsv1.StatefulSet{}, byNamespace).
		Watches(&batchv1.Job{}, byNamespace)
	if live != nil {
		policies := &unstructured.Unstructured{}
		policies.SetGroupVersionKind(nspolicy.GroupVersionKind)
		b = b.Watches(policies, handler.EnqueueRequestsFromMapFunc(r.namespacesWithFlink)).
			WatchesMetadata(&corev1.Namespace{}, relabelled)
	}
	built, err := b.Build(reconcile.Func(r.reconcileRequest))
	if err != nil {
		return nil, err
	}
	c := &Controller{controller: built, cache: mgr.GetCache(), events: byNamespace}
	if _, err := mgr.GetRESTMapper().RESTMapping(FlinkDeploymentGVK.GroupKind(), FlinkDeploymentGVK.Version); err == nil {
		if err := c.WatchFlinkDeployments(); err != nil {
			return nil, err
		}
	} else {
		mgr.GetLogger().Info("not watching FlinkDeployments until their CRD is installed", "reason", err.Error())
	}
	return c, nil
}

// Controller is the account reconciler's controller (Setup).
type Controller struct {
	mu       sync.Mutex
	watching bool

	controller controller.Controller
	cache      cache.Cache
	events     handler.EventHandler
}

// WatchDefaultAccounts makes the reconciler follow the image pull secrets
// of every namespace's default account, which the account it gives Flink
// copies: a change of them puts the namespace in the queue, so a secret
// added to default later reaches Flink's next pods without waiting for a
// change of a Flink object. It must run before the manager starts.
func (c *Controller) WatchDefaultAccounts(d *DefaultAccounts) error {
	return c.controller.Watch(&source.Informer{
		Informer: d.informer,
		Handler: handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: o.GetNamespace()}}}
		}),
		Predicates: []predicate.Predicate{predicate.Funcs{
			CreateFunc:  func(event.CreateEvent) bool { return false }, // a new namespace runs no Flink yet
			DeleteFunc:  func(event.DeleteEvent) bool { return false },
			GenericFunc: func(event.GenericEvent) bool { return false },
			UpdateFunc: func(e event.UpdateEvent) bool {
				before, ok1 := e.ObjectOld.(*corev1.ServiceAccount)
				after, ok2 := e.ObjectNew.(*corev1.ServiceAccount)
				return ok1 && ok2 && !slices.Equal(before.ImagePullSecrets, after.ImagePullSecrets)
			},
		}},
	})
}

// WatchFlinkDeployments makes the reconciler watch FlinkDeployments, once
// their CRD is installed; where it watches them already it does nothing.
// Before the controller starts (in a replica not elected leader) the watch
// waits for its start.
func (c *Controller) WatchFlinkDeployments() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.watching {
		return nil
	}
	fd := &unstructured.Unstructured{}
	fd.SetGroupVersionKind(FlinkDeploymentGVK)
	if err := c.controller.Watch(source.Kind[client.Object](c.cache, fd, c.events)); err != nil {
		return fmt.Errorf("watching FlinkDeployments for their accounts: %w", err)
	}
	c.watching = true
	return nil
}

// workloadEvents queues the namespace of a workload that runs under the
// account of its namespace's policy and, with live namespace policies
// (live), of a deleted one that ran under any named account. An update
// queues it only when it changes an account the object runs pods under
// (accountsOf) or whether it runs native Flink (runsNative): the account
// reconciler reads nothing else of a workload, and the controllers'
// status updates and the operator's would otherwise each reconcile the
// namespace.
func (r *Reconciler) workloadEvents(live bool) handler.EventHandler {
	return workloads{EventHandler: handler.EnqueueRequestsFromMapFunc(r.namespaceOf), live: live}
}

// bindingEvents queues the namespace of a RoleBinding of ours that was
// deleted or changed, so that Flink's rights are restored at once rather
// than at the namespace's next workload event. Its creation is ours.
var bindingEvents = handler.Funcs{
	UpdateFunc: func(_ context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		queueNamespace(e.ObjectNew, q)
	},
	DeleteFunc: func(_ context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		queueNamespace(e.Object, q)
	},
}

func queueNamespace(o client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	q.Add(namespaceRequest(o.GetNamespace()))
}

// namespaceRequest is the request to reconcile namespace ns.
func namespaceRequest(ns string) reconcile.Request {
	return reconcile.Request{NamespacedName: types.NamespacedName{Name: ns}}
}

// namespaceOf queues the namespace of a workload that runs under the
// account of its namespace's policy.
func (r *Reconciler) namespaceOf(ctx context.Context, o client.Object) []reconcile.Request {
	if !r.usesAccount(ctx, o) {
		return nil
	}
	return []reconcile.Request{namespaceRequest(o.GetNamespace())}
}

// relabelled queues a namespace whose labels changed: another
// FlinkHAPolicy may pick it now.
var relabelled = handler.Funcs{
	UpdateFunc: func(_ context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		if !labels.Equals(e.ObjectOld.GetLabels(), e.ObjectNew.GetLabels()) {
			q.Add(namespaceRequest(e.ObjectNew.GetName()))
		}
	},
}

// reconcileRequest reconciles the namespace a request names: a namespace
// queued by name, or the namespace of an event of our own ServiceAccount.
func (r *Reconciler) reconcileRequest(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	ns := req.Name
	if req.Namespace != "" {
		ns = req.Namespace
	}
	return reconcile.Result{}, r.Reconcile(ctx, ns)
}

// workloads queues namespaces for workload events (workloadEvents). With
// live namespace policies it also queues the namespace of a deleted
// workload that ran under a named account: it may be one its namespace's
// policy no longer names, whose objects can go once nothing runs under it.
type workloads struct {
	handler.EventHandler
	live bool
}

func (w workloads) Update(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	oldJM, oldTM := accountsOf(e.ObjectOld)
	newJM, newTM := accountsOf(e.ObjectNew)
	if oldJM != newJM || oldTM != newTM || runsNative(e.ObjectOld) != runsNative(e.ObjectNew) {
		w.EventHandler.Update(ctx, e, q)
	}
}

func (w workloads) Delete(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	if !w.live {
		w.EventHandler.Delete(ctx, e, q)
		return
	}
	if namesAccount(e.Object) {
		queueNamespace(e.Object, q)
	}
}

// namespacesWithFlink lists the namespaces a policy change may concern:
// those where a workload runs under some account or an account of ours
// exists (both in the cache). The others have nothing to ensure or clean
// up.
func (r *Reconciler) namespacesWithFlink(ctx context.Context, _ client.Object) []reconcile.Request {
	seen := map[string]bool{}
	for _, list := range []client.ObjectList{&appsv1.DeploymentList{}, &appsv1.StatefulSetList{}, &batchv1.JobList{}, &corev1.ServiceAccountList{}} {
		if err := r.Client.List(ctx, list); err != nil {
			logf.FromContext(ctx).Error(err, "listing the namespaces a FlinkHAPolicy may concern")
			continue
		}
		_ = meta.EachListItem(list, func(o runtime.Object) error {
			if m, ok := o.(client.Object); ok {
				if _, sa := m.(*corev1.ServiceAccount); sa || namesAccount(m) {
					seen[m.GetNamespace()] = true
				}
			}
			return nil
		})
	}
	reqs := make([]reconcile.Request, 0, len(seen))
	for ns := range seen {
		reqs = append(reqs, namespaceRequest(ns))
	}
	return reqs
}

// FlinkDeploymentGVK is the operator's cluster resource.
var FlinkDeploymentGVK = recognise.FlinkDeploymentGVK

// accountsOf returns the accounts a watched object runs its pods under,
// the JobManager's first: of a FlinkDeployment each role's (roleAccounts),
// of a workload its pod account, twice ("" where it names none).
func accountsOf(o client.Object) (jm, tm string) {
	var sa string
	switch o := o.(type) {
	case *appsv1.Deployment:
		sa = o.Spec.Template.Spec.ServiceAccountName
	case *appsv1.StatefulSet:
		sa = o.Spec.Template.Spec.ServiceAccountName
	case *batchv1.Job:
		sa = o.Spec.Template.Spec.ServiceAccountName
	case *unstructured.Unstructured:
		return roleAccounts(o)
	}
	return sa, sa
}

// namesAccount reports whether a watched object runs some pods under a
// named account.
func namesAccount(o client.Object) bool {
	jm, tm := accountsOf(o)
	return jm != "" || tm != ""
}

// roleAccounts returns the accounts a FlinkDeployment's JobManager and
// TaskManagers run under, read as admission reads them
// (cluster.FlinkDeploymentObject.RoleAccounts): each role's key in
// spec.flinkConfiguration where set ("" being "default"), else
// spec.serviceAccount. RoleAccounts reads only the spec and the parsed
// configuration of what cluster.FlinkDeployment returns, and no policy;
// those two are made here as FlinkDeployment makes them (a configuration
// that is no object or cannot be parsed is none), without the rest of the
// model, which an event of every FlinkDeployment would pay for.
func roleAccounts(u *unstructured.Unstructured) (jm, tm string) {
	o := specOnly(u)
	if fc, ok := o.Spec["flinkConfiguration"].(map[string]any); ok {
		o.Conf, _ = flinkconf.ParseObject(fc)
	}
	j, t := o.RoleAccounts()
	return j.Name, t.Name
}

// specOnly is the model of a FlinkDeployment with its spec alone, for the
// readings of it that need nothing else.
func specOnly(u *unstructured.Unstructured) *cluster.FlinkDeploymentObject {
	o := &cluster.FlinkDeploymentObject{}
	o.Spec, _ = u.Object["spec"].(map[string]any)
	return o
}

// Flink's labels of the objects of a native cluster
// (KubernetesUtils.getJobManagerSelectors): the JobManager Deployment that
// Flink's native client (kubernetes-session.sh, run-application with
// --target kubernetes-application) or the operator in native mode makes
// carries type: flink-native-kubernetes (recognise.TypeNative) and
// component: jobmanager, on itself and its pods. The operator's standalone
// clusters are typed flink-standalone-kubernetes.
const (
	labelType      = "type"
	labelComponent = "component"
)

// runsNative reports whether a watched object runs Flink's native resource
// manager, which creates and deletes the TaskManager pods and deletes the
// JobManager Deployment, under its JobManager's account (accountsOf): a
// FlinkDeployment in native mode, or a workload that runs the JobManager
// of a native cluster. In standalone mode the operator makes the
// TaskManagers itself, and the account needs no rights on pods; nor do
// TaskManagers, native or not, under whichever account they run.
func runsNative(o client.Object) bool {
	if u, ok := o.(*unstructured.Unstructured); ok {
		return specOnly(u).RunsNative()
	}
	return nativeJobManager(o)
}

// nativeJobManager reports whether a workload as the cache keeps it runs
// the JobManager of a native cluster: CacheOptions keeps Flink's labels
// that mark one on a workload recognise.PodTemplate takes for one, and no
// labels on any other.
func nativeJobManager(o client.Object) bool {
	l := o.GetLabels()
	return l[labelType] == recognise.TypeNative && l[labelComponent] == string(recognise.JobManager)
}

// usesAccount reports whether a watched object runs Flink pods, of
// either role, under the account of its namespace's policy.
func (r *Reconciler) usesAccount(ctx context.Context, o client.Object) bool {
	// With an error, p is what admission applies (or nil, and the
	// namespace is queued for Reconcile to report it).
	p, _ := r.policyOf(ctx, o.GetNamespace())
	if p == nil {
		return namesAccount(o)
	}
	jm, tm := accountsOf(o)
	return !p.Exempt(o.GetNamespace()) && (jm == p.ServiceAccount || tm == p.ServiceAccount)
}

// policyOf returns the policy of namespace ns.
func (r *Reconciler) policyOf(ctx context.Context, ns string) (*policy.Policy, error) {
	if r.PolicyFor == nil {
		return r.Policy, nil
	}
	return r.PolicyFor(ctx, ns)
}

// Reconcile brings namespace ns in line with its policy. Under the policy
// file alone it is Ensure, as it always was. Under live namespace
// policies the account the namespace's policy names is ensured where a
// workload runs under it, and the accounts and bindings this package made
// for other accounts are removed once nothing in the namespace runs under
// them any more: removing them earlier would take the rights of a running
// cluster. Where the policy cannot be read, admission applies the
// policy For returns with the error (the policy file's): that account is
// ensured all the same, and nothing is removed until the policy can be
// read.
func (r *Reconciler) Reconcile(ctx context.Context, ns string) error {
	if r.PolicyFor == nil {
		return r.Ensure(ctx, ns)
	}
	p, readErr := r.PolicyFor(ctx, ns)
	if apierrors.IsNotFound(readErr) {
		// The namespace cache may not have seen a new namespace yet, or
		// lag after an outage: only the API server says it is gone.
		err := r.Reader.Get(ctx, types.NamespacedName{Name: ns}, &metav1.PartialObjectMetadata{TypeMeta: namespaceType})
		if apierrors.IsNotFound(err) {
			return nil // the namespace is gone, and with it all it held
		}
		// Admission meanwhile applies the policy For returned with the
		// error: ensure its account below, remove nothing, and retry.
		readErr = fmt.Errorf("not in the namespace cache yet: %w", readErr)
	}
	if p == nil {
		return fmt.Errorf("reading the policy of namespace %s, changing nothing there: %w", ns, readErr)
	}
	if p.Exempt(ns) {
		return nil
	}
	used, err := r.accountsInUse(ctx, ns)
	if err != nil {
		return err
	}
	if used.any[p.ServiceAccount] {
		native := func() (bool, error) { return used.native[p.ServiceAccount], nil }
		if err := r.ensure(ctx, ns, p.ServiceAccount, native); err != nil {
			return err
		}
	} else if readErr == nil {
		// Nothing runs under the account any more: no native cluster
		// either, so the rights to make pods go (the account and its
		// standalone binding stay for the cluster's next start).
		c := uncached{Client: r.Client, reader: r.Reader}
		if err := r.unbind(ctx, c, r.binding(ns, p.ServiceAccount, rights.Native)); err != nil {
			return err
		}
	}
	if readErr != nil {
		return fmt.Errorf("reading the policy of namespace %s, removing nothing there: %w", ns, readErr)
	}
	return r.cleanUp(ctx, ns, p.ServiceAccount, used.any)
}

// inUse is what the workloads and FlinkDeployments of a namespace run
// under: any lists every account some pods run under, native those the
// JobManager of a native cluster runs under (runsNative).
type inUse struct{ any, native map[string]bool }

// accountsInUse returns the accounts the workloads and FlinkDeployments
// of ns run under; without their CRD there are no FlinkDeployments.
func (r *Reconciler) accountsInUse(ctx context.Context, ns string) (inUse, error) {
	used := inUse{any: map[string]bool{}, native: map[string]bool{}}
	add := func(o client.Object) {
		jm, tm := accountsOf(o)
		used.any[jm], used.any[tm] = true, true
		if runsNative(o) {
			used.native[jm] = true
		}
	}
	for _, list := range []client.ObjectList{&appsv1.DeploymentList{}, &appsv1.StatefulSetList{}, &batchv1.JobList{}} {
		if err := r.Client.List(ctx, list, client.InNamespace(ns)); err != nil {
			return inUse{}, fmt.Errorf("listing the workloads of %s: %w", ns, err)
		}
		_ = meta.EachListItem(list, func(o runtime.Object) error {
			add(o.(client.Object))
			return nil
		})
	}
	fds, err := r.flinkDeployments(ctx, ns)
	if err != nil {
		return inUse{}, err
	}
	for i := range fds {
		add(&fds[i])
	}
	return used, nil
}

// cleanUp removes the RoleBindings and ServiceAccounts this package made in
// ns for an account other than keep that nothing in ns runs under. Only
// objects labelled as ours are touched, and of bindings only those that
// bind one account of ns under its own name (as binding makes them).
func (r *Reconciler) cleanUp(ctx context.Context, ns, keep string, used map[string]bool) error {
	stale := func(account string) bool { return account != "" && account != keep && !used[account] }
	log := logf.FromContext(ctx).WithValues("namespace", ns, "serviceAccount", keep)
	bindings := &rbacv1.RoleBindingList{}
	if err := r.Reader.List(ctx, bindings, client.InNamespace(ns), client.MatchingLabels(managedLabels)); err != nil {
		return fmt.Errorf("listing the RoleBindings made in %s: %w", ns, err)
	}
	for i := range bindings.Items {
		rb := &bindings.Items[i]
		if len(rb.Subjects) != 1 || rb.Subjects[0].Kind != rbacv1.ServiceAccountKind || rb.Subjects[0].Namespace != ns {
			continue
		}
		account := rb.Subjects[0].Name
		if !stale(account) || rb.Name != account && rb.Name != account+"-native" {
			continue
		}
		if err := r.Client.Delete(ctx, rb, client.Preconditions{UID: &rb.UID}); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("removing RoleBinding %s/%s of an account the namespace's policy no longer names: %w", ns, rb.Name, err)
		}
		log.Info("removed the binding of an account the namespace's policy no longer names", "name", rb.Name, "account", account)
	}
	accounts := &corev1.ServiceAccountList{}
	if err := r.Reader.List(ctx, accounts, client.InNamespace(ns), client.MatchingLabels(managedLabels)); err != nil {
		return fmt.Errorf("listing the ServiceAccounts made in %s: %w", ns, err)
	}
	for i := range accounts.Items {
		sa := &accounts.Items[i]
		if !stale(sa.Name) {
			continue
		}
		if err := r.Client.Delete(ctx, sa, client.Preconditions{UID: &sa.UID}); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("removing ServiceAccount %s/%s the namespace's policy no longer names: %w", ns, sa.Name, err)
		}
		log.Info("removed an account the namespace's policy no longer names", "account", sa.Name)
	}
	return nil
}

// Ensure makes the account and its RoleBindings in namespace ns what they
// must be: the account bound to the install's ClusterRole of standalone
// Flink's rights, and while the JobManager of a native cluster runs under
// it (runsNative: of a FlinkDeployment in native mode, or of native
// Flink's own) also to the one of native Flink's rights. Objects of the
// same names that this package did not create are left alone and
// reported.
func (r *Reconciler) Ensure(ctx context.Context, ns string) error {
	p, err := r.policyOf(ctx, ns)
	if err != nil {
		return fmt.Errorf("reading the policy of namespace %s: %w", ns, err)
	}
	native := func() (bool, error) {
		used, err := r.accountsInUse(ctx, ns)
		return used.native[p.ServiceAccount], err
	}
	return r.ensure(ctx, ns, p.ServiceAccount, native)
}

// ensure is Ensure for the account called name. native tells whether a
// native cluster runs under it; it is asked once the account is made, so
// that a failure to tell leaves the account there for pods to start
// under.
func (r *Reconciler) ensure(ctx context.Context, ns, name string, native func() (bool, error)) error {
	log := logf.FromContext(ctx).WithValues("namespace", ns, "serviceAccount", name)
	c := uncached{Client: r.Client, reader: r.Reader}

	// Pods the webhook moves off the namespace's default account keep the
	// image pull secrets it gives every pod (the API server copies an
	// account's imagePullSecrets into the pods made under it): ours carries
	// them too, from its creation on, before any pod can start under it.
	pullSecrets, err := r.defaultPullSecrets(ctx, ns)
	if err != nil {
		return err
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	// An account of that name someone else made is used as it is, and
	// bound like ours: Flink runs under it all the same.
	if err := ensure(ctx, c, sa, func() error {
		sa.ImagePullSecrets = withPullSecrets(sa.ImagePullSecrets, pullSecrets)
		return nil
	}); err != nil && !errors.Is(err, errNotOurs) {
		return r.report(ctx, err, "ServiceAccount", ns, name)
	}

	runs, err := native()
	if err != nil {
		return err
	}
	for _, m := range []rights.Mode{rights.Standalone, rights.Native} {
		rb := r.binding(ns, name, m)
		if m == rights.Native && !runs {
			if err := r.unbind(ctx, c, rb); err != nil {
				return err
			}
			continue
		}
		if err := r.bind(ctx, c, rb); err != nil {
			return r.report(ctx, err, "RoleBinding", ns, rb.Name)
		}
	}
	log.V(1).Info("ensured the account Flink runs under", "native", runs)
	return nil
}

// defaultPullSecrets returns the image pull secrets of the default account
// of namespace ns; none where it has not been made yet.
func (r *Reconciler) defaultPullSecrets(ctx context.Context, ns string) ([]corev1.LocalObjectReference, error) {
	def := &corev1.ServiceAccount{}
	if err := r.Reader.Get(ctx, client.ObjectKey{Namespace: ns, Name: "default"}, def); client.IgnoreNotFound(err) != nil {
		return nil, fmt.Errorf("reading the image pull secrets of ServiceAccount %s/default, which Flink's account copies: %w", ns, err)
	}
	return def.ImagePullSecrets, nil
}

// withPullSecrets returns have with each of add it lacks appended: a secret
// added to our account by hand stays, one the default account no longer
// gives is not taken away from pods that may need it.
func withPullSecrets(have, add []corev1.LocalObjectReference) []corev1.LocalObjectReference {
	for _, s := range add {
		if s.Name != "" && !slices.Contains(have, s) {
			have = append(have, s)
		}
	}
	return have
}

// binding is the RoleBinding of mode m's rights to the account.
func (r *Reconciler) binding(ns, account string, m rights.Mode) *rbacv1.RoleBinding {
	name := account
	if m == rights.Native {
		name += "-native"
	}
	return &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: managedLabels},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: account, Namespace: ns}},
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
		return fmt.Errorf("reading the Role %s/%s an older install made: %w", ns, name, err)
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
		return fmt.Errorf("reading RoleBinding %s/%s: %w", rb.Namespace, rb.Name, err)
	}
	if err := c.Delete(ctx, got, client.Preconditions{UID: &got.UID}); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("removing RoleBinding %s/%s: %w", got.Namespace, got.Name, err)
	}
	logf.FromContext(ctx).Info("removed the binding of native Flink's rights: no native cluster runs under the account", "namespace", got.Namespace, "name", got.Name)
	return nil
}

// flinkDeployments lists the FlinkDeployments of ns; without their CRD
// there are none.
func (r *Reconciler) flinkDeployments(ctx context.Context, ns string) ([]unstructured.Unstructured, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(FlinkDeploymentGVK.GroupVersion().WithKind(FlinkDeploymentGVK.Kind + "List"))
	if err := r.Client.List(ctx, list, client.InNamespace(ns)); err != nil {
		if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("listing FlinkDeployments in %s: %w", ns, err)
	}
	return list.Items, nil
}

// report logs an object that is not ours and carries on, and gives up on
// a namespace being deleted; other errors are returned for a retry.
func (r *Reconciler) report(ctx context.Context, err error, kind, ns, name string) error {
	switch {
	case errors.Is(err, errNotOurs):
		logf.FromContext(ctx).Info("an object of this name exists and is not ours; leaving it as it is", "kind", kind, "namespace", ns, "name", name)
		return nil
	case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		// The API server makes nothing new in a namespace being deleted,
		// and all the namespace holds goes with it: a retry would only be
		// refused again until the namespace is gone.
		logf.FromContext(ctx).V(1).Info("the namespace is being deleted; not making the account's objects there", "kind", kind, "namespace", ns, "name", name)
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

// retries spaces the retries of a namespace from 50ms up to 30s, so that
// the accounts catch up within seconds of an API server outage ending
// (controller-runtime's default doubles up to 1000s).
func retries() workqueue.TypedRateLimiter[reconcile.Request] {
	return workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](50*time.Millisecond, 30*time.Second)
}

var namespaceType = metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}

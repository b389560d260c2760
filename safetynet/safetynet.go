// Package safetynet removes owner references from Flink HA ConfigMaps that
// got them while the webhook could not see them: the level-triggered half
// of the promise that HA state outlives its cluster.
package safetynet

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/flink-ha-webhook/flink-ha-webhook/nspolicy"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
	"github.com/flink-ha-webhook/flink-ha-webhook/recognise"
)

var removals = prometheus.NewCounter(prometheus.CounterOpts{
	Name: "flink_ha_webhook_safety_net_removals_total",
	Help: "HA ConfigMaps whose owner references the safety net removed because the webhook had not.",
})

func init() { metrics.Registry.MustRegister(removals) }

// systemNamespaces are never sent to the webhook, and never touched here.
var systemNamespaces = map[string]bool{"kube-system": true, "kube-public": true, "kube-node-lease": true}

// Reconciler removes owner references from one HA ConfigMap.
type Reconciler struct {
	Client client.Client
	// Policy is the policy file's.
	Policy *policy.Policy
	// PolicyFor returns the policy of a namespace where FlinkHAPolicies
	// apply (nspolicy.Live.For), whose allowOptOut decides whether an
	// opted-out ConfigMap is left alone; nil: Policy applies everywhere.
	PolicyFor func(ctx context.Context, namespace string) (*policy.Policy, error)
}

// Setup registers the safety net with a manager. It watches ConfigMap
// metadata only: HA ConfigMaps cannot be selected on the server (Flink 2.0
// dropped their label), and metadata keeps the cache small. With live
// namespace policies (live not nil) the policy of each ConfigMap's
// namespace decides, and a change of a FlinkHAPolicy or of a namespace's
// labels looks at the HA ConfigMaps with owners again.
func Setup(mgr ctrl.Manager, p *policy.Policy, live *nspolicy.Live) error {
	r := &Reconciler{Client: mgr.GetClient(), Policy: p}
	candidate := func(o client.Object) bool { return needsRemoval(o, p) }
	if live != nil {
		r.PolicyFor = live.For
		// Opt-out is decided in Reconcile, by the namespace's policy.
		candidate = func(o client.Object) bool { return mayNeedRemoval(o, p) }
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named("ha-configmap-owners").
		WithOptions(controller.Options{RateLimiter: RetryLimiter()}).
		For(&corev1.ConfigMap{}, builder.OnlyMetadata, builder.WithPredicates(predicate.NewPredicateFuncs(candidate)))
	if live != nil {
		c := mgr.GetClient()
		policies := &unstructured.Unstructured{}
		policies.SetGroupVersionKind(nspolicy.GroupVersionKind)
		b = b.Watches(policies, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, _ client.Object) []reconcile.Request {
			return candidates(ctx, c, p)
		})).WatchesMetadata(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, ns client.Object) []reconcile.Request {
			return candidates(ctx, c, p, client.InNamespace(ns.GetName()))
		}), builder.WithPredicates(predicate.LabelChangedPredicate{}))
	}
	return b.Complete(r)
}

// candidates lists the HA ConfigMaps with owners that a change of a
// FlinkHAPolicy or of a namespace's labels may concern: whether they keep
// their owners is for Reconcile to decide under the namespace's policy. A
// list that fails is logged and queues nothing; the next change lists
// again.
func candidates(ctx context.Context, c client.Reader, p *policy.Policy, opts ...client.ListOption) []reconcile.Request {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ConfigMapList"))
	if err := c.List(ctx, list, opts...); err != nil {
		logf.FromContext(ctx).Error(err, "listing the HA ConfigMaps a policy change may concern")
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		if cm := &list.Items[i]; mayNeedRemoval(cm, p) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(cm)})
		}
	}
	return reqs
}

// mayNeedRemoval is needsRemoval without the opt-out, which the policy of
// the namespace decides.
func mayNeedRemoval(o metav1.Object, p *policy.Policy) bool {
	if len(o.GetOwnerReferences()) == 0 || systemNamespaces[o.GetNamespace()] || p.Exempt(o.GetNamespace()) {
		return false
	}
	_, ok := recognise.HAConfigMap(o.GetName(), o.GetLabels())
	return ok
}

func needsRemoval(o metav1.Object, p *policy.Policy) bool {
	if !mayNeedRemoval(o, p) {
		return false
	}
	return o.GetAnnotations()[policy.AnnotationHA] != "off" || !*p.AllowOptOut
}

// Reconcile implements reconcile.Reconciler.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	cm := &metav1.PartialObjectMetadata{}
	cm.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ConfigMap"))
	if err := r.Client.Get(ctx, req.NamespacedName, cm); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	p := r.Policy
	if r.PolicyFor != nil {
		var err error
		if p, err = r.PolicyFor(ctx, req.Namespace); err != nil {
			// Owner references stay until the policy can be read. A
			// namespace missing from the namespace cache is not gone (it
			// holds this ConfigMap): the cache has not caught up yet.
			return ctrl.Result{}, fmt.Errorf("reading the policy of namespace %s, leaving the owner references: %w", req.Namespace, err)
		}
	}
	if !needsRemoval(cm, p) {
		return ctrl.Result{}, nil
	}
	owners := len(cm.OwnerReferences)
	// A merge patch of ownerReferences alone, refused if the ConfigMap
	// changed since it was read: Flink's data and leader annotation are
	// never written by us.
	patch := client.MergeFromWithOptions(cm.DeepCopy(), client.MergeFromWithOptimisticLock{})
	cm.OwnerReferences = nil
	if err := r.Client.Patch(ctx, cm, patch); err != nil {
		switch {
		case apierrors.IsNotFound(err):
			return ctrl.Result{}, nil
		case apierrors.IsConflict(err):
			// Flink renewed its leadership in between: read it again.
			return ctrl.Result{RequeueAfter: 100 * time.Millisecond}, nil
		}
		return ctrl.Result{}, err
	}
	removals.Inc()
	logf.FromContext(ctx).Info("removed owner references from an HA ConfigMap the webhook did not see", "owners", owners)
	return ctrl.Result{}, nil
}

// RetryLimiter spaces a reconciler's retries of one item from 50ms up to
// 30s. controller-runtime's default doubles up to 1000s, so an API server
// unreachable for a few minutes would leave its work undone for a quarter
// of an hour after it is back.
func RetryLimiter() workqueue.TypedRateLimiter[reconcile.Request] {
	return workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](50*time.Millisecond, 30*time.Second)
}

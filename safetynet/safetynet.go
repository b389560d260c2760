// Package safetynet removes owner references from Flink HA ConfigMaps that
// got them while the webhook could not see them: the level-triggered half
// of the promise that HA state outlives its cluster.
package safetynet

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

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
	Policy *policy.Policy
}

// Setup registers the safety net with a manager. It watches ConfigMap
// metadata only: HA ConfigMaps cannot be selected on the server (Flink 2.0
// dropped their label), and metadata keeps the cache small.
func Setup(mgr ctrl.Manager, p *policy.Policy) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("ha-configmap-owners").
		For(&corev1.ConfigMap{}, builder.OnlyMetadata, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			return needsRemoval(o, p)
		}))).
		Complete(&Reconciler{Client: mgr.GetClient(), Policy: p})
}

func needsRemoval(o metav1.Object, p *policy.Policy) bool {
	if len(o.GetOwnerReferences()) == 0 || systemNamespaces[o.GetNamespace()] || p.Exempt(o.GetNamespace()) {
		return false
	}
	if o.GetAnnotations()[policy.AnnotationHA] == "off" && *p.AllowOptOut {
		return false
	}
	_, ok := recognise.HAConfigMap(o.GetName(), o.GetLabels())
	return ok
}

// Reconcile implements reconcile.Reconciler.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	cm := &metav1.PartialObjectMetadata{}
	cm.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ConfigMap"))
	if err := r.Client.Get(ctx, req.NamespacedName, cm); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !needsRemoval(cm, r.Policy) {
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

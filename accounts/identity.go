package accounts

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
)

// IdentityAnnotations are the annotations by which cloud providers bind a
// workload identity to a Kubernetes account: EKS's IAM roles for service
// accounts, GKE's Workload Identity and Azure's Workload Identity. Each
// provider trusts the account by its namespace and name, so an identity
// does not follow pods to another account.
var IdentityAnnotations = []string{"eks.amazonaws.com/role-arn", "iam.gke.io/gcp-service-account", "azure.workload.identity/client-id"}

// DefaultAccounts watches every namespace's default ServiceAccount, and
// keeps of each only the identity annotations it carries, to say where
// Flink's pods must stay under it (handler.WithDefaultAccounts). All
// replicas run it: every one of them serves reviews.
type DefaultAccounts struct {
	informer toolscache.SharedIndexInformer
}

// NewDefaultAccounts watches the default accounts through cfg.
func NewDefaultAccounts(cfg *rest.Config) (*DefaultAccounts, error) {
	c, err := corev1client.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("a client for the default ServiceAccounts: %w", err)
	}
	return newDefaultAccounts(c.ServiceAccounts(metav1.NamespaceAll), c), nil
}

// accountLister is what DefaultAccounts lists and watches accounts
// through.
type accountLister interface {
	List(ctx context.Context, opts metav1.ListOptions) (*corev1.ServiceAccountList, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
}

// newDefaultAccounts watches through accounts, which client made: the
// reflector reads from client whether it may stream the initial list.
func newDefaultAccounts(accounts accountLister, client any) *DefaultAccounts {
	named := fields.OneTermEqualSelector("metadata.name", "default").String()
	lw := &toolscache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			opts.FieldSelector = named
			return accounts.List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.FieldSelector = named
			return accounts.Watch(ctx, opts)
		},
	}
	informer := toolscache.NewSharedIndexInformer(toolscache.ToListWatcherWithWatchListSemantics(lw, client), &corev1.ServiceAccount{}, 0, toolscache.Indexers{})
	_ = informer.SetTransform(slimDefault)
	return &DefaultAccounts{informer: informer}
}

// slimDefault keeps of a default account its name, the identity
// annotations it carries and its image pull secrets.
func slimDefault(o any) (any, error) {
	sa, ok := o.(*corev1.ServiceAccount)
	if !ok {
		return o, nil
	}
	slim := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa.Name, Namespace: sa.Namespace, UID: sa.UID, ResourceVersion: sa.ResourceVersion},
		ImagePullSecrets: sa.ImagePullSecrets}
	for _, k := range IdentityAnnotations {
		if v := sa.Annotations[k]; v != "" {
			if slim.Annotations == nil {
				slim.Annotations = map[string]string{}
			}
			slim.Annotations[k] = v
		}
	}
	return slim, nil
}

// SetWatchErrorHandler has h told why the watch failed to list or watch.
// It must be called before Start.
func (d *DefaultAccounts) SetWatchErrorHandler(h toolscache.WatchErrorHandlerWithContext) error {
	return d.informer.SetWatchErrorHandlerWithContext(h)
}

// Start runs the watch until ctx ends (manager.Runnable).
func (d *DefaultAccounts) Start(ctx context.Context) error {
	d.informer.RunWithContext(ctx)
	return nil
}

// WaitForSync waits until the watch has listed every default account, or
// ctx ends; it reports which.
func (d *DefaultAccounts) WaitForSync(ctx context.Context) bool {
	return toolscache.WaitForCacheSync(ctx.Done(), d.informer.HasSynced)
}

// NeedLeaderElection is false: every replica reviews.
func (d *DefaultAccounts) NeedLeaderElection() bool { return false }

// Identity returns the first of IdentityAnnotations that namespace's
// default account carries, or "" (also while the watch has not synced:
// nothing is kept back for want of it).
func (d *DefaultAccounts) Identity(namespace string) string {
	if d == nil || !d.informer.HasSynced() {
		return ""
	}
	o, ok, err := d.informer.GetIndexer().GetByKey(namespace + "/default")
	if err != nil || !ok {
		return ""
	}
	sa, ok := o.(*corev1.ServiceAccount)
	if !ok {
		return ""
	}
	if i := slices.IndexFunc(IdentityAnnotations, func(k string) bool { return sa.Annotations[k] != "" }); i >= 0 {
		return IdentityAnnotations[i]
	}
	return ""
}

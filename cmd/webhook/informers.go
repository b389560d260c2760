package main

import (
	"context"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	toolscache "k8s.io/client-go/tools/cache"
)

// rbacHint is what to do when the authorizer refuses serve a kind it
// watches: most often a new image running with an older install's RBAC.
const rbacHint = "the webhook's own account may not list or watch a kind it reads: apply the RBAC of this version " +
	"(manifests/rbac.yaml, rbac-policies.yaml and rbac-reports.yaml, or upgrade the chart), or turn off the feature that reads it " +
	"(--ensure-accounts, --check-collisions, --safety-net, --namespace-policies, --hold-back-standalone, " +
	"--keep-default-identities, --audit-interval=0); until it can, " +
	"this replica does not start serving reviews or become ready, and replicas that are ready keep serving"

// informerErrors reports why an informer of the manager's cache failed to
// list or watch. A refusal by the authorizer is logged as an error that
// names the kind and the fix, at every retry, instead of the generic
// watch failure client-go logs; every other failure is left to client-go's
// own handler, which knows which of them are routine.
func informerErrors(log logr.Logger) toolscache.WatchErrorHandlerWithContext {
	return func(ctx context.Context, r *toolscache.Reflector, err error) {
		if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) {
			log.Error(err, rbacHint, "kind", r.TypeDescription())
			return
		}
		toolscache.DefaultWatchErrorHandler(ctx, r, err)
	}
}

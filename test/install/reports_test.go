package install

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInstallsMayKeepPolicyReports installs with kustomize and expects the
// webhook's account to be allowed to keep its reports, of either API, and
// nothing more of them, and to read FlinkHAPolicies, whose CRD it installs.
func TestInstallsMayKeepPolicyReports(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, _, err := plane.Kubectl(ctx, "", "apply", "-k", "../../manifests")
	require.NoError(t, err)
	user := "system:serviceaccount:flink-ha-webhook:flink-ha-webhook"
	for _, group := range []struct{ group, resource string }{{"openreports.io", "reports"}, {"wgpolicyk8s.io", "policyreports"}} {
		for _, verb := range []string{"get", "list", "create", "update", "delete"} {
			assert.True(t, allowed(ctx, t, user, "team", verb, group.group, group.resource), "%s %s", verb, group.resource)
		}
		assert.False(t, allowed(ctx, t, user, "team", "patch", group.group, group.resource), "patch %s", group.resource)
		assert.False(t, allowed(ctx, t, user, "team", "create", group.group, "cluster"+group.resource), "create cluster-wide reports")
	}
	for _, verb := range []string{"list", "watch"} {
		assert.True(t, allowed(ctx, t, user, "", verb, "flink-ha-webhook.io", "flinkhapolicies"), "%s FlinkHAPolicies", verb)
		assert.True(t, allowed(ctx, t, user, "", verb, "", "namespaces"), "%s namespaces", verb)
	}
	assert.True(t, allowed(ctx, t, user, "", "get", "", "namespaces"), "get a namespace the cache has not seen yet")
	assert.False(t, allowed(ctx, t, user, "", "create", "flink-ha-webhook.io", "flinkhapolicies"), "the webhook never writes policies")
	_, _, err = plane.Kubectl(ctx, "", "get", "crd", "flinkhapolicies.flink-ha-webhook.io")
	assert.NoError(t, err, "the install carries the FlinkHAPolicy CRD")
}

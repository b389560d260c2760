package report

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/flink-ha-webhook/flink-ha-webhook/audit"
	"github.com/flink-ha-webhook/flink-ha-webhook/fleet"
)

func TestBuild(t *testing.T) {
	t.Parallel()
	now := time.Unix(1795500000, 0)
	owned := audit.Cluster{Namespace: "a", ClusterID: "orders", Mode: fleet.Standalone, HA: fleet.HAOn, Account: "flink", Rights: "yes",
		Objects:      []string{"Deployment/orders"},
		HAConfigMaps: []audit.HAConfigMap{{Name: "orders-cluster-config-map", Owners: []string{"Deployment/orders"}}},
		Policy:       audit.Verdict{Result: "ok"}}
	got := build(WGPolicy, "a", []audit.Cluster{owned}, nil, now)
	result := func(rule, res, msg string) map[string]any {
		r := map[string]any{"source": "flink-ha-webhook", "policy": Policy, "rule": rule, "result": res, "message": msg, "category": "Flink HA",
			"timestamp":  map[string]any{"seconds": now.Unix(), "nanos": int64(0)},
			"properties": map[string]any{"clusterId": "orders"},
			"resources": []any{
				map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": "orders", "namespace": "a"},
				map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "name": "orders-cluster-config-map", "namespace": "a"},
			}}
		if res == "fail" {
			r["severity"] = "high"
		}
		return r
	}
	assert.Equal(t, map[string]any{
		"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport",
		"metadata": map[string]any{"name": "flink-ha-webhook", "namespace": "a", "labels": map[string]any{"app.kubernetes.io/managed-by": "flink-ha-webhook"}},
		"summary":  map[string]any{"pass": int64(4), "fail": int64(1), "warn": int64(0), "error": int64(0), "skip": int64(0)},
		"results": []any{
			result(RuleHAConfigMaps, "fail", "the garbage collector deletes these HA ConfigMaps with their owner: orders-cluster-config-map (owned by Deployment/orders)"),
			result(RuleCollisions, "pass", "no other cluster shares its cluster-id or HA storage path"),
			result(RuleHAConfig, "pass", "HA is on"),
			result(RuleAccountRights, "pass", "account flink may do what Kubernetes HA needs"),
			result(RuleWebhookPolicy, "pass", "complies with the webhook's policy"),
		},
	}, got.Object)
	assert.Equal(t, "Report", build(OpenReports, "a", nil, nil, now).GetKind(), "the same report in the OpenReports API")
}

package report

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/flink-ha-webhook/flink-ha-webhook/audit"
	"github.com/flink-ha-webhook/flink-ha-webhook/fleet"
)

var now = time.Unix(1795500000, 0)

// res is a resource of namespace "a" a result names.
func res(apiVersion, kind, name string) map[string]any {
	return map[string]any{"apiVersion": apiVersion, "kind": kind, "name": name, "namespace": "a"}
}

// result is one result of the policy "flink-ha" about cluster-id cid.
func result(cid string, resources []any, rule, result, message string) map[string]any {
	r := map[string]any{"source": "flink-ha-webhook", "policy": Policy, "rule": rule, "result": result, "message": message, "category": "Flink HA",
		"timestamp": map[string]any{"seconds": now.Unix(), "nanos": int64(0)}, "properties": map[string]any{"clusterId": cid}}
	if resources != nil {
		r["resources"] = resources
	}
	if result == "fail" {
		r["severity"] = "high"
	}
	return r
}

// summary counts results by outcome: pass, fail, warn, error, skip.
func summary(pass, fail, warn, errors, skip int64) map[string]any {
	return map[string]any{"pass": pass, "fail": fail, "warn": warn, "error": errors, "skip": skip}
}

// orders is a standalone cluster of namespace "a" that complies with
// everything.
func orders() audit.Cluster {
	return audit.Cluster{Namespace: "a", ClusterID: "orders", Mode: fleet.Standalone, HA: fleet.HAOn, Account: "flink", Rights: "yes",
		Objects: []string{"Deployment/orders"}, HAConfigMaps: []audit.HAConfigMap{{Name: "orders-cluster-config-map"}}, Policy: audit.Verdict{Result: "ok"}}
}

func with(c audit.Cluster, f func(*audit.Cluster)) audit.Cluster {
	f(&c)
	return c
}

// ordersResources are what orders' results name.
var ordersResources = []any{res("apps/v1", "Deployment", "orders"), res("v1", "ConfigMap", "orders-cluster-config-map")}

// passes are orders' results of the rules after the HA ConfigMaps', all
// passed, naming resources (nil: ordersResources), but for those replaced.
func passes(resources []any, replace map[string]map[string]any) []any {
	if resources == nil {
		resources = ordersResources
	}
	var out []any
	for _, r := range []map[string]any{
		result("orders", resources, RuleCollisions, "pass", "no other cluster shares its cluster-id or HA storage path"),
		result("orders", resources, RuleHAConfig, "pass", "HA is on"),
		result("orders", resources, RuleAccountRights, "pass", "account flink may do what Kubernetes HA needs"),
		result("orders", resources, RuleWebhookPolicy, "pass", "complies with the webhook's policy"),
	} {
		if x, ok := replace[r["rule"].(string)]; ok {
			r = x
		}
		if r != nil {
			out = append(out, r)
		}
	}
	return out
}

var unowned = result("orders", ordersResources, RuleHAConfigMaps, "pass", "no HA ConfigMap has an owner reference")

func TestBuild(t *testing.T) {
	t.Parallel()
	sameID := fleet.Collision{Kind: fleet.SameClusterID, Value: "orders",
		First: fleet.Ref{Namespace: "a", Object: "Deployment/orders"}, Second: fleet.Ref{Namespace: "a", Object: "StatefulSet/orders-v2"}}
	samePath := fleet.Collision{Kind: fleet.SameStoragePath, Value: "s3://ha/orders",
		First: fleet.Ref{Namespace: "b", Object: "Job/orders"}, Second: fleet.Ref{Namespace: "a", Object: "Deployment/orders"}}
	owned := append(ordersResources[:2:2], res("v1", "ConfigMap", "orders-0001-config-map"))
	elsewhere := fleet.Collision{Kind: fleet.SameClusterID, Value: "orders",
		First: fleet.Ref{Namespace: "b", Object: "Deployment/orders"}, Second: fleet.Ref{Namespace: "b", Object: "Job/orders"}}
	cases := map[string]struct {
		clusters   []audit.Cluster
		collisions []fleet.Collision
		results    []any
		summary    map[string]any
	}{
		"no clusters: an empty report": {
			summary: summary(0, 0, 0, 0, 0),
		},
		"a compliant cluster passes every rule": {
			clusters: []audit.Cluster{orders()},
			results:  append([]any{unowned}, passes(nil, nil)...),
			summary:  summary(5, 0, 0, 0, 0),
		},
		"an owned HA ConfigMap fails, named with its owners": {
			clusters: []audit.Cluster{with(orders(), func(c *audit.Cluster) {
				c.HAConfigMaps = append(c.HAConfigMaps, audit.HAConfigMap{Name: "orders-0001-config-map", Owners: []string{"Deployment/orders", "Job/x"}})
			})},
			results: append([]any{result("orders", owned, RuleHAConfigMaps, "fail",
				"the garbage collector deletes these HA ConfigMaps with their owner: orders-0001-config-map (owned by Deployment/orders, Job/x)")},
				passes(owned, nil)...),
			summary: summary(4, 1, 0, 0, 0),
		},
		"a cluster without HA ConfigMaps has no result for them": {
			clusters: []audit.Cluster{with(orders(), func(c *audit.Cluster) { c.HAConfigMaps = nil })},
			results:  passes(ordersResources[:1], nil),
			summary:  summary(4, 0, 0, 0, 0),
		},
		"HA data whose cluster is gone: only its ConfigMaps are judged": {
			clusters: []audit.Cluster{
				{Namespace: "a", ClusterID: "gone", HAConfigMaps: []audit.HAConfigMap{{Name: "gone-cluster-config-map"}}, Policy: audit.Verdict{Result: "none"}},
				{Namespace: "a", ClusterID: "lost", HAConfigMaps: []audit.HAConfigMap{{Name: "lost-cluster-config-map", Owners: []string{"Deployment/lost"}}},
					Policy: audit.Verdict{Result: "none"}},
			},
			results: []any{
				result("gone", []any{res("v1", "ConfigMap", "gone-cluster-config-map")}, RuleHAConfigMaps, "pass", "no HA ConfigMap has an owner reference"),
				result("lost", []any{res("v1", "ConfigMap", "lost-cluster-config-map")}, RuleHAConfigMaps, "fail",
					"the garbage collector deletes these HA ConfigMaps with their owner: lost-cluster-config-map (owned by Deployment/lost)"),
			},
			summary: summary(1, 1, 0, 0, 0),
		},
		"collisions of the cluster fail, every one named; those of other namespaces' clusters do not": {
			clusters:   []audit.Cluster{orders()},
			collisions: []fleet.Collision{sameID, elsewhere, samePath},
			results: append([]any{unowned}, passes(nil, map[string]map[string]any{
				RuleCollisions: result("orders", ordersResources, RuleCollisions, "fail", sameID.Message()+"; "+samePath.Message()),
			})...),
			summary: summary(4, 1, 0, 0, 0),
		},
		"HA keys that disagree fail the HA configuration": {
			clusters: []audit.Cluster{with(orders(), func(c *audit.Cluster) { c.HA = fleet.HAConflicting; c.Rights = "" })},
			results: append([]any{unowned}, passes(nil, map[string]map[string]any{
				RuleHAConfig:      result("orders", ordersResources, RuleHAConfig, "fail", "its HA keys disagree between spellings or sources"),
				RuleAccountRights: nil,
			})...),
			summary: summary(3, 1, 0, 0, 0),
		},
		"a cluster without HA passes, and its account is not judged": {
			clusters: []audit.Cluster{with(orders(), func(c *audit.Cluster) { c.HA = fleet.HAOff; c.Rights = "" })},
			results: append([]any{unowned}, passes(nil, map[string]map[string]any{
				RuleHAConfig:      result("orders", ordersResources, RuleHAConfig, "pass", "HA is off"),
				RuleAccountRights: nil,
			})...),
			summary: summary(4, 0, 0, 0, 0),
		},
		"an account lacking rights fails, named with what it lacks": {
			clusters: []audit.Cluster{with(orders(), func(c *audit.Cluster) { c.Rights = "no: may not delete configmaps" })},
			results: append([]any{unowned}, passes(nil, map[string]map[string]any{
				RuleAccountRights: result("orders", ordersResources, RuleAccountRights, "fail", "account flink may not delete configmaps"),
			})...),
			summary: summary(4, 1, 0, 0, 0),
		},
		"rights the audit could not ask about are an error, not a failure": {
			clusters: []audit.Cluster{with(orders(), func(c *audit.Cluster) { c.Rights = "unknown: subjectaccessreviews is forbidden" })},
			results: append([]any{unowned}, passes(nil, map[string]map[string]any{
				RuleAccountRights: result("orders", ordersResources, RuleAccountRights, "error", "account flink: unknown: subjectaccessreviews is forbidden"),
			})...),
			summary: summary(4, 0, 0, 1, 0),
		},
		"what the policy denies fails, every violation named": {
			clusters: []audit.Cluster{with(orders(), func(c *audit.Cluster) {
				c.Policy = audit.Verdict{Result: "deny", Violations: []string{"no storageDir", "no cluster-id"}, Changes: []string{"POD_IP added"}}
			})},
			results: append([]any{unowned}, passes(nil, map[string]map[string]any{
				RuleWebhookPolicy: result("orders", ordersResources, RuleWebhookPolicy, "fail", "no storageDir; no cluster-id"),
			})...),
			summary: summary(4, 1, 0, 0, 0),
		},
		"what a warn-only policy would deny is a warning": {
			clusters: []audit.Cluster{with(orders(), func(c *audit.Cluster) {
				c.Policy = audit.Verdict{Result: "warn", Violations: []string{"no storageDir"}}
			})},
			results: append([]any{unowned}, passes(nil, map[string]map[string]any{
				RuleWebhookPolicy: result("orders", ordersResources, RuleWebhookPolicy, "warn", "no storageDir"),
			})...),
			summary: summary(4, 0, 1, 0, 0),
		},
		"what the webhook would change is a warning": {
			clusters: []audit.Cluster{with(orders(), func(c *audit.Cluster) {
				c.Policy = audit.Verdict{Result: "change", Changes: []string{"set storageDir", "POD_IP added"}}
			})},
			results: append([]any{unowned}, passes(nil, map[string]map[string]any{
				RuleWebhookPolicy: result("orders", ordersResources, RuleWebhookPolicy, "warn", "the webhook would change it on its next apply: set storageDir; POD_IP added"),
			})...),
			summary: summary(4, 0, 1, 0, 0),
		},
		"an exempt namespace's cluster is skipped by the policy rule": {
			clusters: []audit.Cluster{with(orders(), func(c *audit.Cluster) { c.Policy = audit.Verdict{Result: "exempt"} })},
			results: append([]any{unowned}, passes(nil, map[string]map[string]any{
				RuleWebhookPolicy: result("orders", ordersResources, RuleWebhookPolicy, "skip", "the namespace is exempt from the webhook's policy"),
			})...),
			summary: summary(4, 0, 0, 0, 1),
		},
		"every kind of object is named with its API version, in the audit's order": {
			clusters: []audit.Cluster{
				{Namespace: "a", ClusterID: "payments", Mode: fleet.Operator, HA: fleet.HAOff, Objects: []string{"FlinkDeployment/payments"}, Policy: audit.Verdict{Result: "ok"}},
				{Namespace: "a", ClusterID: "reports", Mode: fleet.Standalone, HA: fleet.HAOff, Objects: []string{"Job/reports", "StatefulSet/reports-v2", "ConfigMap/reports-config"},
					Policy: audit.Verdict{Result: "ok"}},
			},
			results: func() []any {
				fd := []any{res("flink.apache.org/v1beta1", "FlinkDeployment", "payments")}
				rs := []any{res("batch/v1", "Job", "reports"), res("apps/v1", "StatefulSet", "reports-v2"), res("v1", "ConfigMap", "reports-config")}
				return []any{
					result("payments", fd, RuleCollisions, "pass", "no other cluster shares its cluster-id or HA storage path"),
					result("payments", fd, RuleHAConfig, "pass", "HA is off"),
					result("payments", fd, RuleWebhookPolicy, "pass", "complies with the webhook's policy"),
					result("reports", rs, RuleCollisions, "pass", "no other cluster shares its cluster-id or HA storage path"),
					result("reports", rs, RuleHAConfig, "pass", "HA is off"),
					result("reports", rs, RuleWebhookPolicy, "pass", "complies with the webhook's policy"),
				}
			}(),
			summary: summary(6, 0, 0, 0, 0),
		},
	}
	for name, tc := range cases {
		var results any = []any(nil)
		if tc.results != nil {
			results = tc.results
		}
		got := build(WGPolicy, "a", tc.clusters, tc.collisions, now)
		assert.Equal(t, map[string]any{
			"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport",
			"metadata": map[string]any{"name": "flink-ha-webhook", "namespace": "a", "labels": map[string]any{"app.kubernetes.io/managed-by": "flink-ha-webhook"}},
			"summary":  tc.summary,
			"results":  results,
		}, got.Object, name)
	}
}

// TestBuildOpenReports: the same report in the OpenReports API.
func TestBuildOpenReports(t *testing.T) {
	t.Parallel()
	wg := build(WGPolicy, "a", []audit.Cluster{orders()}, nil, now)
	open := build(OpenReports, "a", []audit.Cluster{orders()}, nil, now)
	assert.Equal(t, "openreports.io/v1alpha1", open.GetAPIVersion())
	assert.Equal(t, "Report", open.GetKind())
	wg.SetAPIVersion(open.GetAPIVersion())
	wg.SetKind(open.GetKind())
	assert.Equal(t, wg, open)
}

package report

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/flink-ha-webhook/flink-ha-webhook/audit"
	"github.com/flink-ha-webhook/flink-ha-webhook/fleet"
)

// The report kinds, in the order they are preferred when both are
// installed: OpenReports succeeds the Policy Working Group's API.
var (
	OpenReports = schema.GroupVersionResource{Group: "openreports.io", Version: "v1alpha1", Resource: "reports"}
	WGPolicy    = schema.GroupVersionResource{Group: "wgpolicyk8s.io", Version: "v1alpha2", Resource: "policyreports"}
)

var kinds = map[schema.GroupVersionResource]string{OpenReports: "Report", WGPolicy: "PolicyReport"}

// Name is the name of the report the webhook keeps in each namespace.
const Name = "flink-ha-webhook"

// ManagedBy labels the reports the webhook keeps, and finds them again.
const ManagedBy = "flink-ha-webhook"

// Rules of the policy "flink-ha" the reports list a result of per cluster.
const (
	Policy            = "flink-ha"
	RuleHAConfigMaps  = "ha-configmaps-unowned"
	RuleCollisions    = "no-collision"
	RuleAccountRights = "account-rights"
	RuleHAConfig      = "ha-configuration"
	RuleWebhookPolicy = "webhook-policy"
)

var apiVersions = map[string]string{"ConfigMap": "v1", "Deployment": "apps/v1", "StatefulSet": "apps/v1", "Job": "batch/v1",
	"FlinkDeployment": "flink.apache.org/v1beta1"}

// build makes the report of one namespace's clusters.
func build(gvr schema.GroupVersionResource, namespace string, cls []audit.Cluster, all []fleet.Collision, now time.Time) *unstructured.Unstructured {
	var results []any
	summary := map[string]int64{"pass": 0, "fail": 0, "warn": 0, "error": 0, "skip": 0}
	add := func(c audit.Cluster, rule, result, message string) {
		summary[result]++
		var resources []any
		for _, o := range c.Objects {
			kind, name, _ := strings.Cut(o, "/")
			resources = append(resources, map[string]any{"apiVersion": apiVersions[kind], "kind": kind, "name": name, "namespace": namespace})
		}
		for _, h := range c.HAConfigMaps {
			resources = append(resources, map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "name": h.Name, "namespace": namespace})
		}
		r := map[string]any{"source": "flink-ha-webhook", "policy": Policy, "rule": rule, "result": result, "message": message,
			"category": "Flink HA", "timestamp": map[string]any{"seconds": now.Unix(), "nanos": int64(0)},
			"properties": map[string]any{"clusterId": c.ClusterID}}
		if len(resources) > 0 {
			r["resources"] = resources
		}
		if result == "fail" {
			r["severity"] = "high"
		}
		results = append(results, r)
	}
	for _, c := range cls {
		var owned []string
		for _, h := range c.HAConfigMaps {
			if len(h.Owners) > 0 {
				owned = append(owned, fmt.Sprintf("%s (owned by %s)", h.Name, strings.Join(h.Owners, ", ")))
			}
		}
		if len(owned) > 0 {
			add(c, RuleHAConfigMaps, "fail", "the garbage collector deletes these HA ConfigMaps with their owner: "+strings.Join(owned, "; "))
		} else if len(c.HAConfigMaps) > 0 {
			add(c, RuleHAConfigMaps, "pass", "no HA ConfigMap has an owner reference")
		}
		if c.Mode == "" {
			continue // HA data whose cluster was not found: nothing else to judge
		}
		var hits []string
		for _, col := range all {
			if slices.ContainsFunc([]fleet.Ref{col.First, col.Second}, func(r fleet.Ref) bool {
				return r.Namespace == namespace && slices.Contains(c.Objects, r.Object)
			}) {
				hits = append(hits, col.Message())
			}
		}
		if len(hits) > 0 {
			add(c, RuleCollisions, "fail", strings.Join(hits, "; "))
		} else {
			add(c, RuleCollisions, "pass", "no other cluster shares its cluster-id or HA storage path")
		}
		switch {
		case c.HA == fleet.HAConflicting:
			add(c, RuleHAConfig, "fail", "its HA keys disagree between spellings or sources")
		default:
			add(c, RuleHAConfig, "pass", "HA is "+string(c.HA))
		}
		switch {
		case c.Rights == "":
		case c.Rights == "yes":
			add(c, RuleAccountRights, "pass", "account "+c.Account+" may do what Kubernetes HA needs")
		case strings.HasPrefix(c.Rights, "no"):
			add(c, RuleAccountRights, "fail", "account "+c.Account+" "+strings.TrimPrefix(c.Rights, "no: "))
		default:
			add(c, RuleAccountRights, "error", "account "+c.Account+": "+c.Rights)
		}
		switch c.Policy.Result {
		case "deny":
			add(c, RuleWebhookPolicy, "fail", strings.Join(c.Policy.Violations, "; "))
		case "warn":
			add(c, RuleWebhookPolicy, "warn", strings.Join(c.Policy.Violations, "; "))
		case "change":
			add(c, RuleWebhookPolicy, "warn", "the webhook would change it on its next apply: "+strings.Join(c.Policy.Changes, "; "))
		case "exempt":
			add(c, RuleWebhookPolicy, "skip", "the namespace is exempt from the webhook's policy")
		default:
			add(c, RuleWebhookPolicy, "pass", "complies with the webhook's policy")
		}
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": gvr.GroupVersion().String(), "kind": kinds[gvr],
		"metadata": map[string]any{"name": Name, "namespace": namespace,
			"labels": map[string]any{"app.kubernetes.io/managed-by": ManagedBy}},
		"summary": map[string]any{"pass": summary["pass"], "fail": summary["fail"], "warn": summary["warn"], "error": summary["error"], "skip": summary["skip"]},
		"results": results,
	}}
	return u
}

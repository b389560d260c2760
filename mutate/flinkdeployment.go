package mutate

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/flink-ha-webhook/flink-ha-webhook/cluster"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
)

// FlinkDeployment applies the rules for the Flink Kubernetes Operator's
// FlinkDeployment: spec.flinkConfiguration gets the HA keys in the shape the
// user wrote it (flat or nested) and the spelling its flinkVersion reads,
// and spec.serviceAccount the policy's account when it is unset or
// "default". It never adds kubernetes.cluster-id,
// high-availability.cluster-id or kubernetes.namespace: the operator sets
// them from the object and refuses them in flinkConfiguration.
func FlinkDeployment(u *unstructured.Unstructured, p *policy.Policy) Result {
	var r Result
	if p.Exempt(u.GetNamespace()) {
		return r
	}
	o := cluster.FlinkDeployment(u, p)
	switch {
	case o.Spec == nil:
		return r // not a FlinkDeployment the operator would take: the API server says why
	case o.NotAnObject:
		r.note("spec.flinkConfiguration is not an object; left unchanged")
		return r
	case o.ConfErr != nil:
		r.note("spec.flinkConfiguration left unchanged: %v", o.ConfErr)
		return r
	case o.Decision == policy.Skip:
		return r
	}
	r.add(completeAll(&o.Object, p))
	if sa, _ := o.Spec["serviceAccount"].(string); sa == "" || sa == "default" {
		o.Spec["serviceAccount"] = p.ServiceAccount
		r.changed(RuleServiceAccount, warning("spec.serviceAccount: set %s, which may manage Flink's HA ConfigMaps", p.ServiceAccount))
	}
	return r
}

package mutate

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
	"github.com/flink-ha-webhook/flink-ha-webhook/recognise"
)

// oldFlink are the flinkVersion values of the operator whose Flink predates
// high-availability.type (added in 1.16).
var oldFlink = map[string]bool{"v1_13": true, "v1_14": true, "v1_15": true}

// FlinkDeployment applies the rules for the Flink Kubernetes Operator's
// FlinkDeployment: spec.flinkConfiguration gets the HA keys in the shape the
// user wrote it (flat or nested), and spec.serviceAccount the policy's
// account when it is unset or "default". It never adds
// kubernetes.cluster-id, high-availability.cluster-id or
// kubernetes.namespace: the operator sets them from the object and refuses
// them in flinkConfiguration.
func FlinkDeployment(u *unstructured.Unstructured, p *policy.Policy) Result {
	var r Result
	if p.Exempt(u.GetNamespace()) {
		return r
	}
	spec, ok := u.Object["spec"].(map[string]any)
	if !ok {
		return r // not a FlinkDeployment the operator would take: the API server says why
	}
	fc, _ := spec["flinkConfiguration"].(map[string]any)
	if _, present := spec["flinkConfiguration"]; present && fc == nil && spec["flinkConfiguration"] != nil {
		r.Notes = append(r.Notes, warning("spec.flinkConfiguration is not an object; left unchanged"))
		return r
	}
	conf, err := flinkconf.ParseObject(fc)
	if err != nil {
		r.Notes = append(r.Notes, warning("spec.flinkConfiguration left unchanged: %v", err))
		return r
	}
	version, _ := spec["flinkVersion"].(string)
	conf.Legacy = recognise.LegacyFormat(version)
	mode, _, _ := (&flinkconf.Config{Layers: []flinkconf.Layer{{Source: conf}}}).HA()
	decision, _ := p.Decide(u.GetAnnotations(), mode == flinkconf.HAKubernetes)
	if decision == policy.Skip {
		return r
	}

	src := source{Source: conf, name: "spec.flinkConfiguration", namespace: u.GetNamespace(), clusterID: u.GetName()}
	if oldFlink[version] {
		src.haKey, src.haValue = "high-availability", flinkconf.KubernetesHAFactory
	}
	done := completeHA(src, p, decision)
	r.add(done)
	if len(done.Changes) > 0 {
		spec["flinkConfiguration"] = conf.Map()
	}

	if sa, _ := spec["serviceAccount"].(string); sa == "" || sa == "default" {
		spec["serviceAccount"] = p.ServiceAccount
		r.changed(RuleServiceAccount, warning("spec.serviceAccount: set %s, which may manage Flink's HA ConfigMaps", p.ServiceAccount))
	}
	return r
}

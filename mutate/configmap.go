package mutate

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
	"github.com/flink-ha-webhook/flink-ha-webhook/recognise"
)

// ConfigMap applies the ConfigMap rules to cm in place and says what it did:
//
//   - an HA ConfigMap loses its owner references, and nothing else changes,
//     so that deleting its cluster's Deployment cannot garbage-collect the
//     state the cluster recovers from;
//   - a Flink configuration ConfigMap gets the HA keys the policy asks for,
//     in each of flink-conf.yaml and config.yaml, as minimal text edits.
func ConfigMap(cm *corev1.ConfigMap, p *policy.Policy) Result {
	var r Result
	if p.Exempt(cm.Namespace) {
		return r
	}
	if _, ok := recognise.HAConfigMap(cm.Name, cm.Labels); ok {
		if len(cm.OwnerReferences) == 0 || cm.Annotations[policy.AnnotationHA] == "off" && *p.AllowOptOut {
			return r
		}
		n := len(cm.OwnerReferences)
		cm.OwnerReferences = nil
		r.changed(RuleStripOwnerReferences, warning("removed %d owner reference(s): Flink HA ConfigMaps must outlive their cluster so its jobs can recover", n))
		return r
	}
	for _, key := range recognise.ConfigKeys(cm) {
		src, err := flinkconf.ParseFile(key, []byte(cm.Data[key]))
		if err != nil {
			r.Notes = append(r.Notes, warning("data[%s] left unchanged: %v", key, err))
			continue
		}
		mode, _, _ := (&flinkconf.Config{Layers: []flinkconf.Layer{{Source: src}}}).HA()
		decision, _ := p.Decide(cm.Annotations, mode == flinkconf.HAKubernetes) // a forbidden opt-out is validation's to deny
		done := completeHA(source{Source: src, name: "data[" + key + "]", namespace: cm.Namespace, standalone: true}, p, decision)
		r.add(done)
		if len(done.Changes) > 0 {
			cm.Data[key] = string(src.Bytes())
		}
	}
	return r
}

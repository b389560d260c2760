package mutate

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/flink-ha-webhook/flink-ha-webhook/cluster"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
)

// ConfigMap applies the ConfigMap rules to cm in place and says what it did:
//
//   - an HA ConfigMap loses its owner references, and nothing else changes,
//     so that deleting its cluster's Deployment cannot garbage-collect the
//     state the cluster recovers from;
//   - a cluster's configuration ConfigMap gets the HA keys the policy asks
//     for, in each of flink-conf.yaml and config.yaml, as minimal text
//     edits. The operator's own configuration, native flink-config-<cid>
//     ConfigMaps and files that configure no cluster are left alone.
func ConfigMap(cm *corev1.ConfigMap, p *policy.Policy) Result {
	var r Result
	if p.Exempt(cm.Namespace) {
		return r
	}
	o := cluster.ConfigMap(cm, p)
	switch o.Role {
	case cluster.HAData:
		if len(cm.OwnerReferences) == 0 || cm.Annotations[policy.AnnotationHA] == "off" && *p.AllowOptOut {
			return r
		}
		n := len(cm.OwnerReferences)
		cm.OwnerReferences = nil
		r.changed(RuleStripOwnerReferences, Warning("removed %d owner reference(s): Flink HA ConfigMaps must outlive their cluster so its jobs can recover", n))
	case cluster.ClusterConfig:
		for _, u := range o.Unreadable {
			r.note("%s left unchanged: %v", u.Path, u.Err)
		}
		r.add(completeAll(&o.Object, p))
	}
	return r
}

package validate

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/flink-ha-webhook/flink-ha-webhook/cluster"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
)

// ConfigMap checks a Flink cluster's configuration ConfigMap as it will be
// stored. Other ConfigMaps have nothing to check: HA ones, the operator's
// own configuration, the native flink-config-<cid> that Flink writes from a
// configuration judged where it was written, and files that configure no
// cluster.
func ConfigMap(cm *corev1.ConfigMap, p *policy.Policy) (field.ErrorList, []string) {
	if p.Exempt(cm.Namespace) {
		return nil, nil
	}
	o := cluster.ConfigMap(cm, p)
	if o.Role != cluster.ClusterConfig {
		return nil, nil
	}
	var v verdict
	for _, u := range o.Unreadable {
		v.err(&field.Error{Type: field.ErrorTypeInvalid, Field: u.Path.String(), BadValue: field.OmitValueType{}, Detail: u.Err.Error()})
	}
	v.warnings = append(v.warnings, o.Warnings...)
	if len(o.Configs) > 0 {
		v.optOut(&o.Object)
	}
	for _, c := range o.Configs {
		v.checkHA(&o.Object, c, p)
		v.checkReplicas(c)
	}
	return v.errs, v.warnings
}

package validate

import (
	"errors"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
	"github.com/flink-ha-webhook/flink-ha-webhook/recognise"
)

// ConfigMap checks a Flink configuration ConfigMap as it will be stored.
// Other ConfigMaps, HA ones included, have nothing to check.
func ConfigMap(cm *corev1.ConfigMap, p *policy.Policy) (field.ErrorList, []string) {
	if p.Exempt(cm.Namespace) {
		return nil, nil
	}
	var errs field.ErrorList
	var warnings []string
	forbidden := false // the opt-out error is reported once, not per file
	for _, key := range recognise.ConfigKeys(cm) {
		path := field.NewPath("data").Key(key)
		src, err := flinkconf.ParseFile(key, []byte(cm.Data[key]))
		if err != nil {
			errs = append(errs, &field.Error{Type: field.ErrorTypeInvalid, Field: path.String(), BadValue: field.OmitValueType{}, Detail: err.Error()})
			continue
		}
		for _, w := range src.Warnings() {
			warnings = append(warnings, path.String()+": "+w.String())
		}
		t := target{cfg: &flinkconf.Config{Layers: []flinkconf.Layer{{Name: path.String(), Source: src}}}, path: path}
		mode, _, _ := t.cfg.HA()
		decision, err := p.Decide(cm.Annotations, mode == flinkconf.HAKubernetes)
		if errors.Is(err, policy.ErrOptOutForbidden) && !forbidden {
			forbidden = true
			errs = append(errs, field.Forbidden(field.NewPath("metadata", "annotations").Key(policy.AnnotationHA), err.Error()))
		}
		e, w := checkHA(t, p, decision)
		errs, warnings = append(errs, e...), append(warnings, w...)
		if n, at := configReplicas(t.cfg); at != nil {
			errs = append(errs, checkReplicas(t, path.Key(at.Key), n)...)
		}
	}
	return errs, warnings
}

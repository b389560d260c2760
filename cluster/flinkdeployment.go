package cluster

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
)

// OperatorNested is the first flinkVersion for which the operator writes a
// FlinkDeployment's configuration as nested config.yaml, refusing keys that
// prefix others ("Overlapping key prefixes detected"); for older versions it
// writes flat flink-conf.yaml, where they are fine.
var OperatorNested = flinkconf.V2_0

// FlinkDeploymentObject is what the rules know about a FlinkDeployment.
type FlinkDeploymentObject struct {
	Object
	// Spec is the object's spec, nil when it has none the operator would
	// take (the API server's schema says why).
	Spec map[string]any
	// Conf is spec.flinkConfiguration, at ConfPath; nil when it cannot be
	// read, with ConfErr saying why.
	Conf     *flinkconf.Object
	ConfPath *field.Path
	ConfErr  error
	// NotAnObject is true when spec.flinkConfiguration is set to something
	// that is not an object.
	NotAnObject bool
}

// FlinkDeployment says what u is to Flink. Edits of its configuration
// change u when stored.
func FlinkDeployment(u *unstructured.Unstructured, p *policy.Policy) *FlinkDeploymentObject {
	o := &FlinkDeploymentObject{
		Object:   Object{Mode: Operator, Versions: flinkconf.Supported, Namespace: u.GetNamespace(), ClusterID: u.GetName()},
		ConfPath: confPath.path,
	}
	o.Spec, _ = u.Object["spec"].(map[string]any)
	if o.Spec == nil {
		o.decide(p, u.GetAnnotations())
		return o
	}
	if s, _ := o.Spec["flinkVersion"].(string); s != "" {
		if v, ok := flinkconf.OperatorVersion(s); ok {
			o.Versions, o.VersionFrom = flinkconf.Exactly(v), "spec.flinkVersion "+s
		}
	} else if s, _ := o.Spec["image"].(string); s != "" {
		if v, ok := flinkconf.ImageVersion(s); ok {
			o.Versions, o.VersionFrom = flinkconf.Exactly(v), "spec.image "+s
		}
	}
	raw, present := o.Spec["flinkConfiguration"]
	fc, isMap := raw.(map[string]any)
	if present && raw != nil && !isMap {
		o.NotAnObject = true
		o.decide(p, u.GetAnnotations())
		return o
	}
	conf, err := flinkconf.ParseObject(fc)
	if err != nil {
		o.ConfErr = err
		o.decide(p, u.GetAnnotations())
		return o
	}
	nested := o.Versions.AnyAtLeast(OperatorNested)
	conf.Legacy = !nested
	o.Conf = conf
	spec := o.Spec
	c := Configuration{
		Path: o.ConfPath, Versions: o.Versions, Nested: nested,
		Edit: conf, EditPath: o.ConfPath, Store: func() { spec["flinkConfiguration"] = conf.Map() },
	}
	o.Configs = []*Configuration{stacked(c, []flinkconf.Layer{layer(confPath, conf)}, []fieldPath{confPath})}
	o.decide(p, u.GetAnnotations())
	return o
}

package validate

import (
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
	"github.com/flink-ha-webhook/flink-ha-webhook/recognise"
)

// Workload checks the pod template of a Deployment, StatefulSet or Job that
// runs Flink. replicas is the number of pods the object runs at once
// (spec.replicas, or a Job's spec.parallelism) at replicasPath: more than
// one JobManager needs HA.
func Workload(meta *metav1.ObjectMeta, tpl *corev1.PodTemplateSpec, replicas int32, replicasPath *field.Path, p *policy.Policy) (field.ErrorList, []string) {
	if p.Exempt(meta.Namespace) {
		return nil, nil
	}
	fp, ok := recognise.PodTemplate(meta.Labels, tpl)
	if !ok {
		return nil, nil
	}
	var errs field.ErrorList
	var warnings []string
	c := &tpl.Spec.Containers[fp.Container]
	cpath := field.NewPath("spec", "template", "spec", "containers").Index(fp.Container)

	cfg := &flinkconf.Config{}
	var where *field.Path // where the configuration the container carries lives
	if i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "FLINK_PROPERTIES" }); i >= 0 && c.Env[i].ValueFrom == nil {
		where = cpath.Child("env").Key("FLINK_PROPERTIES")
		env, err := flinkconf.ParseLegacy([]byte(c.Env[i].Value))
		if err != nil {
			errs = append(errs, &field.Error{Type: field.ErrorTypeInvalid, Field: where.String(), BadValue: field.OmitValueType{}, Detail: err.Error()})
		} else {
			cfg.Layers = append(cfg.Layers, flinkconf.Layer{Name: where.String(), Source: env})
		}
	}
	if args := flinkconf.ParseArgs(c.Args, len(c.Args)); len(args.Entries()) > 0 {
		if where == nil {
			where = cpath.Child("args")
		}
		cfg.Layers = append(cfg.Layers, flinkconf.Layer{Name: cpath.Child("args").String(), Source: args})
	}

	mode, _, set := cfg.HA()
	decision, err := p.Decide(meta.Annotations, mode == flinkconf.HAKubernetes)
	if errors.Is(err, policy.ErrOptOutForbidden) {
		errs = append(errs, field.Forbidden(field.NewPath("metadata", "annotations").Key(policy.AnnotationHA), err.Error()))
	}

	switch {
	case !fp.ConfigMounted && where != nil:
		// The container carries the configuration: it must be complete.
		e, w := checkHA(target{cfg: cfg, path: where}, p, decision)
		errs, warnings = append(errs, e...), append(warnings, w...)
	case len(cfg.Layers) > 0:
		// A mounted ConfigMap holds the rest; what the container overrides
		// must not turn HA off or make it ZooKeeper.
		if set && mode != flinkconf.HAKubernetes && decision == policy.MakeHA {
			_, at, _ := cfg.HA()
			errs = append(errs, field.Invalid(where.Key(at.Key), at.Value,
				fmt.Sprintf("overrides the mounted configuration; this cluster's policy requires HA: remove it or set %s: kubernetes", at.Key)))
		}
	}

	if fp.Role == recognise.JobManager && replicas > 1 {
		// Standby JobManagers need HA: the policy provides it unless the
		// object stays out of it, or says it is off.
		off := decision == policy.Skip && mode != flinkconf.HAKubernetes || set && mode == flinkconf.HANone
		if off {
			errs = append(errs, field.Invalid(replicasPath, replicas,
				"more than one JobManager needs HA for leader election: turn HA on or run 1 JobManager"))
		}
	}
	if fp.Native && decision != policy.Skip && (tpl.Spec.ServiceAccountName == "" || tpl.Spec.ServiceAccountName == "default") {
		warnings = append(warnings, "spec.template.spec.serviceAccountName: a native Flink JobManager under the default account cannot "+
			"manage its HA ConfigMaps or pods; set kubernetes.service-account")
	}
	return errs, warnings
}

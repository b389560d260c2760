package validate

import (
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
	"github.com/flink-ha-webhook/flink-ha-webhook/recognise"
)

// operatorOwned are the keys the operator sets itself and refuses in
// flinkConfiguration.
var operatorOwned = []string{flinkconf.ClusterID.Key, flinkconf.HAClusterID.Key, flinkconf.Namespace.Key}

// FlinkDeployment checks a FlinkDeployment as it will be stored: its name is
// its cluster-id, its flinkConfiguration must make Kubernetes HA work, and
// standby JobManagers and last-state upgrades need HA.
func FlinkDeployment(u *unstructured.Unstructured, p *policy.Policy) (field.ErrorList, []string) {
	if p.Exempt(u.GetNamespace()) {
		return nil, nil
	}
	var errs field.ErrorList
	var warnings []string
	path := field.NewPath("spec", "flinkConfiguration")
	fc, found, err := unstructured.NestedMap(u.Object, "spec", "flinkConfiguration")
	if err != nil {
		return field.ErrorList{field.Invalid(path, field.OmitValueType{}, "must be an object of Flink configuration keys")}, nil
	}
	if !found {
		fc = nil
	}
	conf, err := flinkconf.ParseObject(fc)
	if err != nil {
		return field.ErrorList{field.Invalid(path, field.OmitValueType{}, err.Error())}, nil
	}
	version, _, _ := unstructured.NestedString(u.Object, "spec", "flinkVersion")
	conf.Legacy = recognise.LegacyFormat(version)
	for _, w := range conf.Warnings() {
		warnings = append(warnings, path.String()+": "+w.String())
	}
	cfg := &flinkconf.Config{Layers: []flinkconf.Layer{{Name: path.String(), Source: conf}}}
	mode, _, _ := cfg.HA()
	decision, err := p.Decide(u.GetAnnotations(), mode == flinkconf.HAKubernetes)
	if errors.Is(err, policy.ErrOptOutForbidden) {
		errs = append(errs, field.Forbidden(field.NewPath("metadata", "annotations").Key(policy.AnnotationHA), err.Error()))
	}

	for _, key := range operatorOwned {
		if s, ok := conf.Get(key); ok {
			errs = append(errs, field.Forbidden(path.Key(s.Key), "the operator sets "+key+" from the FlinkDeployment and refuses it here: remove it"))
		}
	}
	if decision != policy.Skip || mode == flinkconf.HAKubernetes {
		if err := flinkconf.CheckClusterID(u.GetName()); err != nil {
			errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), u.GetName(),
				fmt.Sprintf("is the cluster-id of the Flink cluster: %v", err)))
		}
	}
	e, w := checkHA(target{cfg: cfg, path: path, clusterID: u.GetName()}, p, decision)
	errs, warnings = append(errs, e...), append(warnings, w...)

	haOff := func() bool { m, _, _ := cfg.HA(); return m == flinkconf.HANone }
	if n, found, _ := unstructured.NestedInt64(u.Object, "spec", "jobManager", "replicas"); found && n > 1 && haOff() {
		errs = append(errs, field.Invalid(field.NewPath("spec", "jobManager", "replicas"), n,
			"more than one JobManager needs HA for leader election: set high-availability.type: kubernetes or use 1 replica"))
	}
	if m, _, _ := unstructured.NestedString(u.Object, "spec", "job", "upgradeMode"); m == "last-state" && haOff() {
		errs = append(errs, field.Invalid(field.NewPath("spec", "job", "upgradeMode"), m,
			"last-state upgrades restore from the HA metadata: turn HA on or use savepoint"))
	}
	return errs, warnings
}

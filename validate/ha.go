package validate

import (
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
)

// target is a configuration to check and where it lives in the object.
type target struct {
	cfg *flinkconf.Config
	// path is the object's field holding the configuration; an option's
	// error path is path.Key(option key).
	path *field.Path
	// clusterID is known from elsewhere (a FlinkDeployment's name): the
	// configuration need not set kubernetes.cluster-id.
	clusterID string
}

// checkHA reports what stops cfg from running with Kubernetes HA when the
// decision requires it (or the configuration turns it on), and replicas
// that need HA when it is off.
func checkHA(t target, p *policy.Policy, decision policy.Decision) (field.ErrorList, []string) {
	var errs field.ErrorList
	var warnings []string
	mode, at, _ := t.cfg.HA()

	for _, c := range t.cfg.Conflicts() {
		if c.Kind == flinkconf.ConflictZooKeeper || c.Kind == flinkconf.ConflictLayers && !haKey(c.Settings[0].Key) {
			continue // ZooKeeper is judged below; other keys disagreeing is not an HA problem
		}
		if c.Kind == flinkconf.ConflictSpellings && !haKey(c.Settings[0].Key) {
			continue
		}
		s := c.Settings[0]
		errs = append(errs, field.Invalid(t.path.Key(s.Key), s.Value, c.Message))
	}

	if decision == policy.Skip && mode != flinkconf.HAKubernetes {
		return errs, warnings
	}
	switch mode {
	case flinkconf.HAKubernetes:
	case flinkconf.HAZooKeeper:
		if decision == policy.MakeHA {
			errs = append(errs, field.Invalid(t.path.Key(at.Key), at.Value, zooKeeperFix(p)))
		}
		return errs, warnings
	case flinkconf.HAFactory:
		warnings = append(warnings, fmt.Sprintf("%s: %s is a custom HA factory; the webhook does not check it", t.path.Key(at.Key), at.Value))
		return errs, warnings
	default:
		if decision != policy.MakeHA {
			return errs, warnings
		}
		errs = append(errs, field.Required(t.path.Key(flinkconf.HAType.Key),
			"this cluster's policy requires HA: set high-availability.type: kubernetes"))
	}

	if s, ok := t.cfg.Lookup(flinkconf.HAStorageDir); !ok {
		errs = append(errs, field.Required(t.path.Key(flinkconf.HAStorageDir.Key),
			"Kubernetes HA keeps job graphs and checkpoint pointers there: set high-availability.storageDir to a URI "+
				"every JobManager can reach, such as s3://<bucket>/flink-ha/<cluster-id>"))
	} else if warning, err := flinkconf.CheckStorageDir(s.Value); err != nil {
		detail := err.Error()
		if s.Line > 0 || s.Arg >= 0 {
			detail = s.Where() + ": " + detail // the field path does not say which line or argument
		}
		errs = append(errs, field.Invalid(t.path.Key(s.Key), s.Value, detail))
	} else if warning != "" {
		warnings = append(warnings, fmt.Sprintf("%s: %s", t.path.Key(s.Key), warning))
	}

	if t.clusterID == "" {
		if s, ok := t.cfg.Lookup(flinkconf.ClusterID); !ok {
			errs = append(errs, field.Required(t.path.Key(flinkconf.ClusterID.Key),
				"Kubernetes HA names its ConfigMaps after it: set kubernetes.cluster-id to a name unique in the namespace, "+
					"such as the JobManager Deployment's"))
		} else if err := flinkconf.CheckClusterID(s.Value); err != nil {
			errs = append(errs, field.Invalid(t.path.Key(s.Key), s.Value, err.Error()))
		}
	}
	return errs, warnings
}

// checkReplicas denies standby JobManagers without HA: they cannot take
// over without leader election.
func checkReplicas(t target, path *field.Path, replicas int) field.ErrorList {
	if replicas <= 1 {
		return nil
	}
	if mode, _, _ := t.cfg.HA(); mode != flinkconf.HANone {
		return nil
	}
	return field.ErrorList{field.Invalid(path, replicas,
		"more than one JobManager needs HA for leader election: set high-availability.type: kubernetes or use 1 replica")}
}

// configReplicas reads kubernetes.jobmanager.replicas, 1 when unset or not
// a number.
func configReplicas(cfg *flinkconf.Config) (int, *flinkconf.Setting) {
	s, ok := cfg.Lookup(flinkconf.JobManagerReplicas)
	if !ok {
		return 1, nil
	}
	n, err := strconv.Atoi(s.Value)
	if err != nil {
		return 1, nil
	}
	return n, &s
}

func haKey(key string) bool {
	for _, o := range []flinkconf.Option{flinkconf.HAType, flinkconf.HAStorageDir, flinkconf.HAClusterID, flinkconf.ClusterID} {
		for _, k := range o.Keys() {
			if k == key {
				return true
			}
		}
	}
	return false
}

func zooKeeperFix(p *policy.Policy) string {
	fix := "this cluster's policy requires Kubernetes HA: set high-availability.type: kubernetes (ZooKeeper state is not migrated)"
	if *p.AllowOptOut {
		fix += ", or annotate " + policy.AnnotationHA + `: "off"`
	}
	return fix
}

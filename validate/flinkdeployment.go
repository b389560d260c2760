package validate

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/flink-ha-webhook/flink-ha-webhook/cluster"
	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
)

// operatorOwned are the keys the operator sets itself and refuses in
// flinkConfiguration.
var operatorOwned = []string{flinkconf.ClusterID.Key, flinkconf.HAClusterID.Key, flinkconf.Namespace.Key}

// hostNetworkNeeds is what a native cluster on the host network is told.
const hostNetworkNeeds = "on the host network the JobManager updates its Service at start (services get, update), which the " +
	"roles the webhook binds do not grant: bind them to the account yourself, or the JobManager fails to start"

// accountChecked reports whether the account a FlinkDeployment's JobManager
// runs under is one the account check asks the API server about, which
// then names any right it lacks, the Service's included: an account of the
// user's choosing, with the check on.
func accountChecked(o *cluster.FlinkDeploymentObject, p *policy.Policy) bool {
	jm, _ := o.RoleAccounts()
	return p.CheckAccounts != policy.CheckOff && checked(jm, p)
}

// FlinkDeployment checks a FlinkDeployment as it will be stored: its name is
// its cluster-id, its flinkConfiguration must make Kubernetes HA work in the
// Flink version it names, and standby JobManagers need HA.
func FlinkDeployment(u *unstructured.Unstructured, p *policy.Policy) (field.ErrorList, []string) {
	if p.Exempt(u.GetNamespace()) {
		return nil, nil
	}
	o := cluster.FlinkDeployment(u, p)
	switch {
	case o.Spec == nil:
		return nil, nil // the API server's schema says why
	case o.NotAnObject:
		return field.ErrorList{field.Invalid(o.ConfPath, field.OmitValueType{}, "must be an object of Flink configuration keys")}, nil
	case o.ConfErr != nil:
		return field.ErrorList{field.Invalid(o.ConfPath, field.OmitValueType{}, o.ConfErr.Error())}, nil
	}
	var v verdict
	for _, w := range o.Conf.Warnings() {
		v.warn("%s: %s", o.ConfPath, w)
	}
	v.optOut(&o.Object)
	for _, key := range operatorOwned {
		if s, ok := o.Conf.Get(key); ok {
			v.err(field.Forbidden(o.ConfPath.Key(s.Key), "the operator sets "+key+" from the FlinkDeployment and refuses it here: remove it"))
		}
	}
	c := o.Configs[0]
	if o.Decision != policy.Skip || c.HAOn() {
		if err := flinkconf.CheckClusterID(u.GetName()); err != nil {
			v.err(field.Invalid(field.NewPath("metadata", "name"), u.GetName(), fmt.Sprintf("is the cluster-id of the Flink cluster: %v", err)))
		}
	}
	v.checkHA(&o.Object, c, p)

	haOff := c.HA.Newest().Mode == flinkconf.HANone
	if n, found, _ := unstructured.NestedInt64(u.Object, "spec", "jobManager", "replicas"); found && n > 1 && haOff {
		v.err(field.Invalid(field.NewPath("spec", "jobManager", "replicas"), n,
			"more than one JobManager needs HA for leader election: set "+haSetting(c)+" or use 1 replica"))
	}
	if o.RunsNative() && o.OnHostNetwork() && !accountChecked(o, p) {
		v.warn("%s: %s", o.ConfPath.Key(cluster.HostNetworkKey), hostNetworkNeeds)
	}
	if m, _, _ := unstructured.NestedString(u.Object, "spec", "job", "upgradeMode"); m == "last-state" && haOff {
		// Allowed without HA since operator 1.10 (FLINK-35414), which then
		// restores from the checkpoint directory alone.
		v.warn("spec.job.upgradeMode: last-state without HA needs Flink Kubernetes Operator 1.10+ and a checkpoint directory; " +
			"with HA a JobManager failover also keeps the job")
	}
	return v.errs, v.warnings
}

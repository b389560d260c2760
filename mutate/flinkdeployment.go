package mutate

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/flink-ha-webhook/flink-ha-webhook/cluster"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
)

// FlinkDeployment applies the rules for the Flink Kubernetes Operator's
// FlinkDeployment: spec.flinkConfiguration gets the HA keys in the shape the
// user wrote it (flat or nested) and the spelling its flinkVersion reads,
// and spec.serviceAccount the policy's account when it is unset or
// "default" (the operator requires the field). It never changes the keys
// of flinkConfiguration that give the JobManager or the TaskManagers an
// account of their own (kubernetes.jobmanager.service-account,
// kubernetes.taskmanager.service-account), which Flink prefers to
// spec.serviceAccount: they are the user's choice, which the validating
// webhook's account check asks the API server about. Where one names
// another account than the policy's, that role gains nothing from
// spec.serviceAccount, and the warnings say so. It never adds kubernetes.cluster-id,
// high-availability.cluster-id or kubernetes.namespace: the operator sets
// them from the object and refuses them in flinkConfiguration.
func FlinkDeployment(u *unstructured.Unstructured, p *policy.Policy) Result {
	var r Result
	if p.Exempt(u.GetNamespace()) {
		return r
	}
	o := cluster.FlinkDeployment(u, p)
	switch {
	case o.Spec == nil:
		return r // not a FlinkDeployment the operator would take: the API server says why
	case o.NotAnObject:
		r.note("spec.flinkConfiguration is not an object; left unchanged")
		return r
	case o.ConfErr != nil:
		r.note("spec.flinkConfiguration left unchanged: %v", o.ConfErr)
		return r
	case o.Decision == policy.Skip:
		return r
	}
	r.add(completeAll(&o.Object, p))
	sa, _ := o.Spec["serviceAccount"].(string)
	switch {
	case p.DefaultIdentity != "" && sa == "":
		// The operator requires an account: the one whose identity
		// Flink keeps (policy.KeepingDefault).
		o.Spec["serviceAccount"] = "default"
		r.changed(RuleServiceAccount, Warning("spec.serviceAccount: set default, whose %s %s would not carry", p.DefaultIdentity, p.ServiceAccount))
	case p.DefaultIdentity != "" && sa == "default":
		r.note("spec.serviceAccount: kept default, whose %s %s would not carry", p.DefaultIdentity, p.ServiceAccount)
	case sa == "" || sa == "default":
		o.Spec["serviceAccount"] = p.ServiceAccount
		jm, tm := o.RoleAccounts()
		jmOwn, tmOwn := jm.Own && jm.Name != p.ServiceAccount, tm.Own && tm.Name != p.ServiceAccount
		why := "which may manage Flink's HA ConfigMaps"
		switch {
		case jmOwn && tmOwn:
			why = "as the operator requires; no Flink pod runs under it"
		case jmOwn:
			why += ", for the TaskManagers"
		case tmOwn:
			why += ", for the JobManager"
		}
		r.changed(RuleServiceAccount, Warning("spec.serviceAccount: set %s, %s", p.ServiceAccount, why))
		for _, role := range []struct {
			a    cluster.RoleAccount
			own  bool
			runs string
		}{{jm, jmOwn, "the JobManager runs"}, {tm, tmOwn, "the TaskManagers run"}} {
			if role.own {
				r.note("%s: %s as %s, not %s", role.a.Path, role.runs, role.a.Name, p.ServiceAccount)
			}
		}
	}
	return r
}

package validate

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/flink-ha-webhook/flink-ha-webhook/cluster"
	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
	"github.com/flink-ha-webhook/flink-ha-webhook/recognise"
	"github.com/flink-ha-webhook/flink-ha-webhook/rights"
)

// Account is a service account of the user's choosing that Flink will run
// under, and what it must be allowed to do, for a check with the API
// server's authorizer (which the rules here do not call: they are pure).
type Account struct {
	Namespace, Name string
	// Path is the field that names it.
	Path *field.Path
	// Native accounts also create and delete the TaskManager pods.
	Native bool
	// Flink is the release lines the cluster may run; the zero Range is
	// unknown, which means any supported one.
	Flink flinkconf.Range
}

// Needs lists what the account must be allowed (package rights): the
// rights of Flink's Kubernetes HA, and in native mode those of a cluster
// that makes its own TaskManager pods.
func (a Account) Needs() []Access {
	m := rights.Standalone
	if a.Native {
		m = rights.Native
	}
	return rights.Needs(m, a.Flink)
}

// Access is one verb on one resource of one API group.
type Access = rights.Access

// chosen reports whether name is an account the user chose: not empty,
// not "default" (which mutation replaces), not the policy's own (which
// the webhook makes and binds).
func chosen(name string, p *policy.Policy) bool {
	return name != "" && name != "default" && name != p.ServiceAccount
}

// flinkOf is the Account.Flink of an object the model knows: its release
// lines when known, else the zero Range.
func flinkOf(o *cluster.Object) flinkconf.Range {
	if o.VersionFrom == "" {
		return flinkconf.Range{}
	}
	return o.Versions
}

// WorkloadAccount returns the account to check of a Flink workload that
// runs with HA under an account of the user's choosing.
func WorkloadAccount(meta *metav1.ObjectMeta, tpl *corev1.PodTemplateSpec, p *policy.Policy) (Account, bool) {
	if p.Exempt(meta.Namespace) || !chosen(tpl.Spec.ServiceAccountName, p) {
		return Account{}, false
	}
	w, ok := cluster.Workload(meta, tpl, p)
	if !ok || w.Decision == policy.Skip {
		return Account{}, false
	}
	return Account{Namespace: meta.Namespace, Name: tpl.Spec.ServiceAccountName,
		Path:   field.NewPath("spec", "template", "spec", "serviceAccountName"),
		Native: w.Pod.Native && w.Pod.Role == recognise.JobManager, Flink: flinkOf(&w.Object)}, true
}

// FlinkDeploymentAccount returns the account to check of a FlinkDeployment
// under an account of the user's choosing. The operator runs Flink in
// native mode unless spec.mode is standalone: the account then also manages
// pods.
func FlinkDeploymentAccount(u *unstructured.Unstructured, p *policy.Policy) (Account, bool) {
	sa, _, _ := unstructured.NestedString(u.Object, "spec", "serviceAccount")
	if p.Exempt(u.GetNamespace()) || !chosen(sa, p) {
		return Account{}, false
	}
	o := cluster.FlinkDeployment(u, p)
	if o.Decision == policy.Skip {
		return Account{}, false
	}
	mode, _, _ := unstructured.NestedString(u.Object, "spec", "mode")
	return Account{Namespace: u.GetNamespace(), Name: sa, Path: field.NewPath("spec", "serviceAccount"),
		Native: mode != "standalone", Flink: flinkOf(&o.Object)}, true
}

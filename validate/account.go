package validate

import (
	"fmt"
	"strings"

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
	// Path is the field that names it: what the user changes to run the
	// role under another account.
	Path *field.Path
	// RoleKey is true when Path is the role's own key in a
	// FlinkDeployment's flinkConfiguration.
	RoleKey bool
	// TaskManager accounts run only TaskManagers, which with Kubernetes HA
	// only retrieve leaders from the HA ConfigMaps.
	TaskManager bool
	// Native accounts run a JobManager that also creates and deletes the
	// TaskManager pods.
	Native bool
	// HostNetwork marks a native JobManager on the host network, which
	// also updates its Service (rights.HostNetworkNeeds).
	HostNetwork bool
	// Flink is the release lines the cluster may run; the zero Range is
	// unknown, which means any supported one.
	Flink flinkconf.Range
	// Identity is the annotation by which the account, its namespace's
	// default, carries a cloud workload identity that keeps Flink under it
	// (policy.KeepingDefault); "" for any other account.
	Identity string
}

// identity is the Account.Identity of the account name under p.
func identity(name string, p *policy.Policy) string {
	if name == "" || name == "default" {
		return p.DefaultIdentity
	}
	return ""
}

// Needs lists what the account must be allowed (package rights): for a
// JobManager the rights of Flink's Kubernetes HA, and in native mode those
// of a cluster that makes its own TaskManager pods; for TaskManagers their
// leader retrieval's.
func (a Account) Needs() []Access {
	if a.TaskManager {
		return rights.TaskManagerNeeds(a.Flink)
	}
	m := rights.Standalone
	if a.Native {
		m = rights.Native
	}
	needs := rights.Needs(m, a.Flink)
	if a.Native && a.HostNetwork {
		needs = append(needs, rights.HostNetworkNeeds()...)
	}
	return needs
}

// Role names the part of the cluster that runs under the account, for
// messages.
func (a Account) Role() string {
	if a.TaskManager {
		return "the TaskManagers"
	}
	return "the JobManager"
}

// Fix says how to run the role under an account that may do what it
// needs, webhookAccount being the one the webhook makes and binds.
func (a Account) Fix(webhookAccount string) string {
	fix := fmt.Sprintf("bind it to a Role that allows it, or leave the account to the webhook (%s)", webhookAccount)
	switch {
	case a.Identity != "":
		// The webhook's account would not carry the identity.
		fix = fmt.Sprintf("bind it to a Role that allows it, or name an account of your own that the identity of its %s trusts "+
			"(the webhook keeps Flink under default, since %s would lose it)", a.Identity, webhookAccount)
	case a.RoleKey:
		fix = fmt.Sprintf("bind it to a Role that allows it, or set the key to the webhook's account (%s), "+
			"or remove it for %s to run under spec.serviceAccount", webhookAccount, a.Role())
	}
	if a.Native && a.HostNetwork {
		// The roles the webhook binds grant nothing on Services.
		fix += ", whose Services rights on the host network you grant yourself"
	}
	return fix
}

// Access is one verb on one resource of one API group.
type Access = rights.Access

// chosen reports whether name is an account the user chose: not empty,
// not "default" (which mutation replaces), not the policy's own (which
// the webhook makes and binds).
func chosen(name string, p *policy.Policy) bool {
	if p.DefaultIdentity != "" && (name == "" || name == "default") {
		return true // kept for its identity (policy.KeepingDefault)
	}
	return name != "" && name != "default" && name != p.ServiceAccount
}

// accountName is the account a pod or FlinkDeployment field names: "" is
// the namespace's default.
func accountName(name string) string {
	if name == "" {
		return "default"
	}
	return name
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
// runs with HA under an account of the user's choosing: a JobManager's
// with the JobManager's needs, a TaskManager's with the TaskManagers'.
func WorkloadAccount(meta *metav1.ObjectMeta, tpl *corev1.PodTemplateSpec, p *policy.Policy) (Account, bool) {
	if p.Exempt(meta.Namespace) || !chosen(tpl.Spec.ServiceAccountName, p) {
		return Account{}, false
	}
	w, ok := cluster.Workload(meta, tpl, p)
	if !ok || w.Decision == policy.Skip {
		return Account{}, false
	}
	native := w.Pod.Native && w.Pod.Role == recognise.JobManager
	return Account{Namespace: meta.Namespace, Name: accountName(tpl.Spec.ServiceAccountName), Identity: identity(tpl.Spec.ServiceAccountName, p),
		Path:        field.NewPath("spec", "template", "spec", "serviceAccountName"),
		TaskManager: w.Pod.Role == recognise.TaskManager, Native: native,
		// What Flink's client writes for kubernetes.hostnetwork.enabled.
		HostNetwork: native && tpl.Spec.HostNetwork, Flink: flinkOf(&w.Object)}, true
}

// checked reports whether the account a role runs under is one to check:
// one the user chose. A role's own key is taken as written, "default"
// included, since mutation leaves it alone; spec.serviceAccount as
// chosen says. Neither is checked where it names the webhook's account,
// whichever field names it: the webhook makes and binds its account for
// each role that runs under it (package accounts), native rights included
// where that role is a native cluster's JobManager.
func checked(r cluster.RoleAccount, p *policy.Policy) bool {
	if r.Own {
		return r.Name != p.ServiceAccount
	}
	return chosen(r.Name, p)
}

// FlinkDeploymentAccounts returns the accounts to check of a
// FlinkDeployment: the JobManager's, with a native cluster's needs unless
// spec.mode is standalone (the operator runs Flink native by default),
// and the TaskManagers', with theirs, where each is of the user's
// choosing. Both roles under spec.serviceAccount are one account, whose
// JobManager's needs cover the TaskManagers'.
func FlinkDeploymentAccounts(u *unstructured.Unstructured, p *policy.Policy) []Account {
	if p.Exempt(u.GetNamespace()) {
		return nil
	}
	sa, _, _ := unstructured.NestedString(u.Object, "spec", "serviceAccount")
	if conf, _, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "flinkConfiguration"); !chosen(sa, p) && !namesAccounts(conf, 0) {
		return nil // the common case, told without reading the configuration
	}
	o := cluster.FlinkDeployment(u, p)
	if o.Spec == nil || o.Decision == policy.Skip {
		return nil
	}
	jm, tm := o.RoleAccounts()
	var out []Account
	if checked(jm, p) {
		out = append(out, Account{Namespace: u.GetNamespace(), Name: accountName(jm.Name), Path: jm.Path, RoleKey: jm.Own, Identity: identity(jm.Name, p),
			Native: o.RunsNative(), HostNetwork: o.RunsNative() && o.OnHostNetwork(), Flink: flinkOf(&o.Object)})
	}
	if checked(tm, p) && (tm.Own || jm.Own) { // else both are spec.serviceAccount, checked as the JobManager's
		out = append(out, Account{Namespace: u.GetNamespace(), Name: accountName(tm.Name), Path: tm.Path, RoleKey: tm.Own, Identity: identity(tm.Name, p),
			TaskManager: true, Flink: flinkOf(&o.Object)})
	}
	return out
}

// namesAccounts reports whether a flinkConfiguration may name a role's
// account: whether a key at any depth ends with "service-account", as
// the roles' keys do flat or nested. It errs towards yes, for a cheap
// test before the configuration is read; deeper than Flink's keys nest it
// says yes.
func namesAccounts(conf any, depth int) bool {
	m, ok := conf.(map[string]any)
	if !ok {
		return false
	}
	if depth > 8 {
		return true
	}
	for k, v := range m {
		if strings.HasSuffix(k, "service-account") || namesAccounts(v, depth+1) {
			return true
		}
	}
	return false
}

// Package rights is the one list of what Flink asks of the Kubernetes API
// server, per mode and release line: the Role the webhook binds for Flink,
// the account check and the documented RBAC are derived from it.
package rights

import (
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
)

// Mode is how a Flink cluster runs on Kubernetes.
type Mode int

const (
	// Standalone clusters are Deployments, StatefulSets or Jobs someone
	// else made; Flink only uses its Kubernetes HA services.
	Standalone Mode = iota
	// Native clusters (the operator's FlinkDeployments, kubernetes-session,
	// kubernetes-application) also make and remove their TaskManager pods.
	Native
)

func (m Mode) String() string {
	if m == Native {
		return "native"
	}
	return "standalone"
}

// Access is one verb on one resource of one API group ("" is core).
type Access struct{ Group, Resource, Verb string }

func (a Access) String() string {
	if a.Group == "" {
		return a.Verb + " " + a.Resource
	}
	return a.Verb + " " + a.Resource + "." + a.Group
}

// need is one Access, the release lines and mode it applies to, and the
// source that shows it.
type need struct {
	Access
	since flinkconf.Version
	// until, when set, is the last release line that uses the access.
	until  flinkconf.Version
	native bool
	// cleanup marks an access only the cleanup of a stopped cluster uses
	// (see Needs).
	cleanup bool
	// taskManager marks an access TaskManagers use too (see
	// TaskManagerNeeds).
	taskManager bool
}

// usedBy reports whether a release line of r uses n.
func (n need) usedBy(r flinkconf.Range) bool {
	return r.AnyAtLeast(n.since) && (n.until == flinkconf.Version{} || !n.until.Less(r.Min))
}

// usedByAll reports whether every release line of r uses n.
func (n need) usedByAll(r flinkconf.Range) bool {
	return r.AllAtLeast(n.since) && (n.until == flinkconf.Version{} || !n.until.Less(r.Max))
}

// needs is the list. What shows each entry (Flink's flink-kubernetes
// module and the fabric8 kubernetes-client it bundles):
//   - configmaps get, create: fabric8 LeaderElector reads the leader
//     ConfigMap and creates it when missing (ResourceLock / ConfigMapLock);
//     Fabric8FlinkKubeClient.getConfigMap and createConfigMap.
//   - configmaps list, watch: KubernetesConfigMapSharedInformer (leader
//     retrieval on JobManagers and TaskManagers). A TaskManager's HA
//     services (KubernetesLeaderElectionHaServices, or the old
//     KubernetesHaServices of 1.15 on request) only retrieve leaders: the
//     informer lists and watches the cluster's HA ConfigMaps by label
//     (1.15-1.20) or by name (2.x), the old driver watches one by name;
//     a TaskManager never reads one by GET, never writes or deletes one,
//     and never touches pods (its JobManager makes them).
//   - configmaps update: Fabric8FlinkKubeClient.checkAndUpdateConfigMap
//     writes job graphs and checkpoint pointers with a PUT locked to the
//     resourceVersion it read (every release); leader renewals with
//     fabric8 5.x (Flink 1.15-1.17) are GET + PUT as well.
//   - configmaps patch, from 1.18: fabric8 >= 6.5 renews and releases
//     leadership with a PATCH carrying the resourceVersion it read
//     (strategic merge in 6.5, JSON merge from 6.6 on, also in 7.x).
//   - configmaps delete: job cleanup deletes the job's ConfigMap by name.
//   - configmaps deletecollection, 1.18 only: cluster cleanup deletes the
//     cluster's HA ConfigMaps by label in 1.15-1.18
//     (Fabric8FlinkKubeClient.deleteConfigMapsByLabels, from
//     KubernetesHaServices and
//     KubernetesLeaderElectionHaServices.internalCleanup), which fabric8
//     5.x (Flink 1.15-1.17) runs as a list and a delete per ConfigMap
//     and fabric8 6.x (Flink 1.18) as one DELETE of the collection with a
//     label selector; 1.19 removed the method (FLINK-33598) and deletes
//     by name.
//   - pods create, delete, list, watch (native): createTaskManagerPod,
//     stopPod, getPodsWithLabels, watchPodsAndDoCallback; get as the
//     operator's job Role grants it.
//   - deployments get (native): createTaskManagerPod reads the
//     JobManager's Deployment to own the TaskManager pods; delete:
//     stopAndCleanupCluster removes the cluster.
//   - deployments/finalizers update (native): the TaskManager pods' owner
//     reference sets blockOwnerDeletion, which clusters running the
//     OwnerReferencesPermissionEnforcement admission plugin allow only to
//     who may update the owner's finalizers (the operator's job Role
//     grants it for the same reason).
//
// Services are left out: only a native cluster on the host network updates
// its Service's target port (HostNetworkNeeds, which the account check asks
// of such a cluster's account), and the operator's job Role does not grant
// it either.
var needs = []need{
	{Access: Access{"", "configmaps", "get"}},
	{Access: Access{"", "configmaps", "list"}, taskManager: true},
	{Access: Access{"", "configmaps", "watch"}, taskManager: true},
	{Access: Access{"", "configmaps", "create"}},
	{Access: Access{"", "configmaps", "update"}},
	{Access: Access{"", "configmaps", "patch"}, since: flinkconf.V1_18},
	{Access: Access{"", "configmaps", "delete"}},
	{Access: Access{"", "configmaps", "deletecollection"}, since: flinkconf.V1_18, until: flinkconf.V1_18, cleanup: true},
	{Access: Access{"", "pods", "get"}, native: true},
	{Access: Access{"", "pods", "list"}, native: true},
	{Access: Access{"", "pods", "watch"}, native: true},
	{Access: Access{"", "pods", "create"}, native: true},
	{Access: Access{"", "pods", "delete"}, native: true},
	{Access: Access{"apps", "deployments", "get"}, native: true},
	{Access: Access{"apps", "deployments", "delete"}, native: true},
	{Access: Access{"apps", "deployments/finalizers", "update"}, native: true},
}

// Needs lists what an account must be allowed for a Flink cluster of mode
// m in its namespace when the cluster may run any release line of r: what
// any of those lines uses to run. An access only the cleanup of a stopped
// cluster uses, and only some lines (deletecollection, 1.18), is needed
// only when every line of r uses it: without it such a cluster runs and
// recovers, and only leaves its HA ConfigMaps behind when it stops for
// good, so a cluster of an unknown version (a custom image) is not refused
// for it. A zero Range means the release line is unknown: every supported
// one.
func Needs(m Mode, r flinkconf.Range) []Access {
	return list(m, r, func(n need, r flinkconf.Range) bool { return !n.cleanup || n.usedByAll(r) })
}

// TaskManagerNeeds lists what the account of a Flink cluster's
// TaskManagers must be allowed for Kubernetes HA when the cluster may run
// any release line of r, in either mode: the leader retrieval's list and
// watch of the HA ConfigMaps, a part of what a JobManager of either mode
// needs. A zero Range means the release line is unknown.
func TaskManagerNeeds(r flinkconf.Range) []Access {
	return list(Standalone, r, func(n need, _ flinkconf.Range) bool { return n.taskManager })
}

// HostNetworkNeeds lists what the account of a native cluster's JobManager
// on the host network (kubernetes.hostnetwork.enabled) needs besides
// Needs(Native, ...), in every supported line (FLINK-24947, 1.15): its
// resource manager points the JobManager Service's target port at the
// port the JobManager bound when it starts (KubernetesUtils
// .updateKubernetesServiceTargetPortIfNecessary: the Service is read, then
// replaced) and fails to start where it may not. Grants leaves them out:
// the webhook binds no rights on Services.
func HostNetworkNeeds() []Access {
	return []Access{{"", "services", "get"}, {"", "services", "update"}}
}

// Grants lists what a Role for a Flink cluster of mode m that may run any
// release line of r grants: every access any of those lines uses, its
// cleanup included.
func Grants(m Mode, r flinkconf.Range) []Access {
	return list(m, r, func(need, flinkconf.Range) bool { return true })
}

// list is the accesses of the list for mode m that a release line of r
// uses and keep keeps; the zero Range is every supported line.
func list(m Mode, r flinkconf.Range, keep func(need, flinkconf.Range) bool) []Access {
	if r == (flinkconf.Range{}) {
		r = flinkconf.Supported
	}
	var out []Access
	for _, n := range needs {
		if (!n.native || m == Native) && n.usedBy(r) && keep(n, r) {
			out = append(out, n.Access)
		}
	}
	return out
}

// Rules returns Grants as the rules of a Role: one rule per API group and
// resource, in the order of the list.
func Rules(m Mode, r flinkconf.Range) []rbacv1.PolicyRule {
	var rules []rbacv1.PolicyRule
	for _, a := range Grants(m, r) {
		i := slices.IndexFunc(rules, func(p rbacv1.PolicyRule) bool {
			return p.APIGroups[0] == a.Group && p.Resources[0] == a.Resource
		})
		if i < 0 {
			rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{a.Group}, Resources: []string{a.Resource}})
			i = len(rules) - 1
		}
		rules[i].Verbs = append(rules[i].Verbs, a.Verb)
	}
	return rules
}

// ClusterRole names the ClusterRole the install ships with the rights of
// mode m for every supported release line; the webhook binds it, per
// namespace, to the account it gives Flink. prefix is the install's name.
func ClusterRole(prefix string, m Mode) string {
	return prefix + ":flink-" + m.String()
}

// Join lists accesses for a message: "get configmaps, patch configmaps".
func Join(as []Access) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

// RunsHA reports whether Kubernetes HA needs a to run: an access to
// ConfigMaps other than the cleanup's deletecollection. An account denied
// one of them cannot run a cluster with HA, whose JobManager fails at its
// start; one denied only others (a native cluster's pods, say) fails with
// HA or without, and one denied only the cleanup runs and recovers.
func RunsHA(a Access) bool {
	return a.Group == "" && a.Resource == "configmaps" && a.Verb != "deletecollection"
}

package cluster

import (
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
)

// RoleAccount is the account one role of a FlinkDeployment's cluster runs
// under and the field that names it.
type RoleAccount struct {
	Name string
	Path *field.Path
	// Own is true when the role's key in flinkConfiguration names it,
	// rather than spec.serviceAccount.
	Own bool
}

// RoleAccounts returns the accounts the JobManager and the TaskManagers
// of a FlinkDeployment's cluster run under: each role's key in
// spec.flinkConfiguration when set, else spec.serviceAccount. The operator
// writes spec.serviceAccount into kubernetes.service-account, over that
// key in flinkConfiguration, and leaves the roles' keys alone; Flink reads
// each role's key before kubernetes.service-account (KubernetesConfigOptions,
// fallback keys) and puts it into the role's pods over any pod template,
// as kubernetes.service-account is always set (InitJobManagerDecorator,
// InitTaskManagerDecorator, and the operator's standalone decorators). An
// empty key is the namespace's "default" account, as a pod that names
// none. A flinkConfiguration that cannot be read names no role's account.
func (o *FlinkDeploymentObject) RoleAccounts() (jm, tm RoleAccount) {
	sa, _ := o.Spec["serviceAccount"].(string)
	role := func(key string) RoleAccount {
		if o.Conf != nil {
			if s, ok := o.Conf.Get(key); ok {
				name := s.Value
				if name == "" {
					name = "default"
				}
				return RoleAccount{Name: name, Path: o.ConfPath.Key(key), Own: true}
			}
		}
		return RoleAccount{Name: sa, Path: field.NewPath("spec", "serviceAccount")}
	}
	return role(flinkconf.JobManagerServiceAccount.Key), role(flinkconf.TaskManagerServiceAccount.Key)
}

// HostNetworkKey puts a native cluster's pods on the host network; native
// Flink's resource manager then points the JobManager Service's target
// port at the port the JobManager bound when it starts (KubernetesUtils
// .updateKubernetesServiceTargetPortIfNecessary, a read and a replace of
// the Service).
const HostNetworkKey = "kubernetes.hostnetwork.enabled"

// OnHostNetwork reports whether the FlinkDeployment's configuration puts
// its cluster on the host network. Flink reads a boolean option as "true"
// or "false" in any case.
func (o *FlinkDeploymentObject) OnHostNetwork() bool {
	if o.Conf == nil {
		return false
	}
	s, ok := o.Conf.Get(HostNetworkKey)
	return ok && strings.EqualFold(strings.TrimSpace(s.Value), "true")
}

// OperatorStandalone is the spec.mode of a FlinkDeployment the operator
// runs as a standalone cluster, making its TaskManagers itself; any other,
// and none, is native, its default (KubernetesDeploymentMode
// .getDeploymentMode).
const OperatorStandalone = "standalone"

// RunsNative reports whether the operator runs the FlinkDeployment's
// cluster in native mode: its JobManager then makes the TaskManager pods.
func (o *FlinkDeploymentObject) RunsNative() bool {
	mode, _ := o.Spec["mode"].(string)
	return mode != OperatorStandalone
}

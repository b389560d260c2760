package validate

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/flink-ha-webhook/flink-ha-webhook/cluster"
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
	w, ok := cluster.Workload(meta, tpl, p)
	if !ok {
		return nil, nil
	}
	var v verdict
	if u := w.Unreadable; u != nil {
		v.err(&field.Error{Type: field.ErrorTypeInvalid, Field: u.Path.String(), BadValue: field.OmitValueType{}, Detail: u.Err.Error()})
	}
	v.optOut(&w.Object)
	if ig := w.Ignored; ig != nil {
		v.warnIgnored(w, ig)
	}
	for _, x := range w.ArgsWarnings {
		v.warn("%s: %s", w.ContainerPath.Child("args"), x)
	}

	explicitOff := false // the container itself turns HA off
	for _, c := range w.Configs {
		for _, l := range c.Config.Layers {
			if f := l.Source.Format(); f == flinkconf.FormatLegacy || f == flinkconf.FormatProperties {
				for _, x := range l.Source.Warnings() {
					v.warn("%s: %s (as Flink %s reads it)", l.Name, x, c.Versions)
				}
			}
		}
		newest := c.HA.Newest()
		explicitOff = explicitOff || newest.Set && newest.Mode == flinkconf.HANone
		if w.Carried {
			v.checkHA(&w.Object, c, p) // the container carries the whole configuration
			continue
		}
		// A mounted ConfigMap holds the rest; what the container overrides
		// must not turn HA off or make it ZooKeeper.
		v.conflicts(c)
		if newest.Set && newest.Mode != flinkconf.HAKubernetes && c.Decision == policy.MakeHA {
			v.err(field.Invalid(c.At(newest.At), newest.At.Value,
				fmt.Sprintf("overrides the mounted configuration; this cluster's policy requires HA: remove it or set %s: kubernetes", newest.At.Key)))
		}
	}

	if w.Pod.Application {
		v.checkHost(w)
	}
	if w.Pod.Role == "jobmanager" && replicas > 1 {
		// Standby JobManagers need HA: the policy provides it unless the
		// object opts out, or the container says it is off or carries a
		// configuration without it. A mounted configuration, or a native
		// cluster's, may turn it on where the webhook cannot see.
		optedOut := meta.Annotations[policy.AnnotationHA] == "off" && *p.AllowOptOut
		carriedOff := w.Carried && w.Decision == policy.Skip && !anyHAOn(w.Configs)
		if optedOut || explicitOff || carriedOff {
			v.err(field.Invalid(replicasPath, replicas,
				"more than one JobManager needs HA for leader election: turn HA on or run 1 JobManager"))
		}
	}
	if w.Pod.Native && w.Decision != policy.Skip && (tpl.Spec.ServiceAccountName == "" || tpl.Spec.ServiceAccountName == "default") {
		v.warn("spec.template.spec.serviceAccountName: a native Flink JobManager under the default account cannot "+
			"manage its HA ConfigMaps or pods; set kubernetes.service-account: %s, the policy's account, which is bound "+
			"to native Flink's rights while a native JobManager runs under it", p.ServiceAccount)
	}
	if w.Pod.Native && w.Pod.Role == recognise.JobManager && w.Decision != policy.Skip && tpl.Spec.HostNetwork &&
		(p.CheckAccounts == policy.CheckOff || !chosen(tpl.Spec.ServiceAccountName, p)) {
		// What Flink's client writes for kubernetes.hostnetwork.enabled;
		// an account of the user's choosing is asked for the Service by
		// the account check.
		v.warn("spec.template.spec.hostNetwork: %s", hostNetworkNeeds)
	}
	return v.errs, v.warnings
}

// warnIgnored says that FLINK_PROPERTIES has no effect over a read-only
// mounted configuration: the image's entrypoint fails to write it there and
// Flink reads the mount as it is. Never a denial: Flink does not read it.
func (v *verdict) warnIgnored(w *cluster.WorkloadObject, ig *cluster.Ignored) {
	m := w.Pod.Mount
	into := "ConfigMap " + m.ConfigMap
	if m.ConfigMap == "" {
		into = "the mounted configuration"
	}
	v.warn("%s: Flink %s ignores it: the image's entrypoint cannot write it into the read-only configuration mounted at %s; "+
		"put these keys in %s, or pass them as -D arguments", ig.Path, ig.Versions, m.Path, into)
}

// checkHost judges a --host given to standalone-job: Flink 2 removed the
// option, so it ends option parsing there and the job class and its
// arguments become program arguments (HostArg: not a --host among the
// program's own arguments).
func (v *verdict) checkHost(w *cluster.WorkloadObject) {
	if !w.Versions.AnyAtLeast(flinkconf.V2_0) {
		return
	}
	// Read as Flink 2 reads them: where the lines that may run the image
	// differ, the oldest stop first (1.15-1.18 at --jars), and a --host
	// they never reach may still be where Flink 2 stops.
	v2, _ := w.Versions.Intersect(flinkconf.Range{Min: flinkconf.V2_0, Max: w.Versions.Max})
	i := cluster.HostArg(flinkconf.ParseArgs(w.Container.Args, v2))
	if i < 0 {
		return
	}
	path := w.ContainerPath.Child("args").Index(i)
	if w.Pod.Operator {
		// The operator's own arguments (its releases up to 1.15 pass
		// --host): nothing the user can change here, and the webhook
		// leaves what the operator makes as it is.
		v.warn("%s: Flink 2 has no --host: from here on the job's arguments are program arguments; the operator's releases up to "+
			"1.15 write it with HA (FLINK-38795 changes that)", path)
		return
	}
	fix := fmt.Sprintf("Flink 2 has no --host: from here on the job class and its arguments become program arguments; "+
		"replace --host <address> with -D %s=<address>", cluster.RPCAddress)
	if w.Versions.AllAtLeast(flinkconf.V2_0) {
		v.err(field.Invalid(path, w.Container.Args[i], fix+" ("+w.VersionFrom+")"))
		return
	}
	v.warn("%s: if the image runs Flink 2: %s", path, fix)
}

func anyHAOn(configs []*cluster.Configuration) bool {
	for _, c := range configs {
		if c.HAOn() {
			return true
		}
	}
	return false
}

package mutate

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
	"github.com/flink-ha-webhook/flink-ha-webhook/recognise"
)

// More rules, as Result.Counts names them.
const (
	RuleServiceAccount = "service-account"
	RulePodIP          = "pod-ip"
)

// EnvProperties is the official image's variable of configuration lines.
const EnvProperties = "FLINK_PROPERTIES"

// podIPEnv is the variable the Flink docs give an HA JobManager.
const podIPEnv = "POD_IP"

// Workload applies the workload rules to the pod template of a Deployment,
// StatefulSet or Job that runs Flink:
//
//   - pods that run under no account, or "default", get the policy's account,
//     which may manage the HA ConfigMaps (native JobManagers, whose account
//     must also manage pods, are left to Flink's own setting);
//   - an HA standalone JobManager advertises its pod IP, as HA requires: the
//     POD_IP variable from status.podIP and the matching argument;
//   - where the container is configured through FLINK_PROPERTIES or -D
//     arguments rather than a mounted ConfigMap, those get the HA keys.
func Workload(meta *metav1.ObjectMeta, tpl *corev1.PodTemplateSpec, p *policy.Policy) Result {
	var r Result
	if p.Exempt(meta.Namespace) {
		return r
	}
	fp, ok := recognise.PodTemplate(meta.Labels, tpl)
	if !ok {
		return r
	}
	c := &tpl.Spec.Containers[fp.Container]
	cpath := fmt.Sprintf("spec.template.spec.containers[%d]", fp.Container)
	env, args := containerConfig(c, fp)
	haOn := false
	if cfg := layers(cpath, env, args); cfg != nil {
		mode, _, _ := cfg.HA()
		haOn = mode == flinkconf.HAKubernetes
	}
	decision, _ := p.Decide(meta.Annotations, haOn)
	if decision == policy.Skip {
		return r
	}

	spec := &tpl.Spec
	if !fp.Native && (spec.ServiceAccountName == "" || spec.ServiceAccountName == "default") &&
		(spec.DeprecatedServiceAccount == "" || spec.DeprecatedServiceAccount == "default") {
		spec.ServiceAccountName = p.ServiceAccount
		if spec.DeprecatedServiceAccount != "" {
			spec.DeprecatedServiceAccount = p.ServiceAccount
		}
		r.changed(RuleServiceAccount, warning("spec.template.spec.serviceAccountName: set %s, which may manage Flink's HA ConfigMaps", p.ServiceAccount))
	}

	if fp.Role == recognise.JobManager && !fp.Native {
		advertisePodIP(c, fp, cpath, &r)
	}

	if fp.ConfigMounted {
		return r
	}
	env, args = containerConfig(c, fp) // again: the arguments may have changed above
	// The configuration is where the user put it: -D arguments that already
	// set HA keys win over FLINK_PROPERTIES, which wins over other -D.
	switch {
	case args != nil && (setsHA(args) || env == nil) && len(args.Entries()) > 0:
		done := completeHA(source{Source: args, name: cpath + ".args", namespace: meta.Namespace, standalone: true}, p, decision)
		r.add(done)
		if len(done.Changes) > 0 {
			c.Args = args.Args()
		}
	case env != nil:
		done := completeHA(source{Source: env, name: cpath + ".env[" + EnvProperties + "]", namespace: meta.Namespace, standalone: true}, p, decision)
		r.add(done)
		if len(done.Changes) > 0 {
			i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == EnvProperties })
			c.Env[i].Value = string(env.Bytes())
		}
	}
	return r
}

// containerConfig reads the configuration a container carries itself: the
// FLINK_PROPERTIES variable (when it is a literal) and -D arguments.
func containerConfig(c *corev1.Container, fp recognise.FlinkPod) (*flinkconf.Legacy, *flinkconf.Args) {
	var env *flinkconf.Legacy
	if i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == EnvProperties }); i >= 0 && c.Env[i].ValueFrom == nil {
		env, _ = flinkconf.ParseLegacy([]byte(c.Env[i].Value)) // unreadable: validation says why
	}
	// New properties go where every entrypoint reads them: right after
	// "standalone-job", at the end for jobmanager and taskmanager (after
	// jobmanager's optional host argument).
	insertAt := len(c.Args)
	if fp.Application {
		insertAt = 1
	}
	var args *flinkconf.Args
	if len(c.Args) > 0 {
		args = flinkconf.ParseArgs(c.Args, insertAt)
	}
	return env, args
}

// layers stacks a container's configuration sources in Flink's order.
func layers(cpath string, env *flinkconf.Legacy, args *flinkconf.Args) *flinkconf.Config {
	cfg := &flinkconf.Config{}
	if env != nil {
		cfg.Layers = append(cfg.Layers, flinkconf.Layer{Name: cpath + ".env[" + EnvProperties + "]", Source: env})
	}
	if args != nil && len(args.Entries()) > 0 {
		cfg.Layers = append(cfg.Layers, flinkconf.Layer{Name: cpath + ".args", Source: args})
	}
	if len(cfg.Layers) == 0 {
		return nil
	}
	return cfg
}

func setsHA(args *flinkconf.Args) bool {
	for _, e := range args.Entries() {
		if strings.HasPrefix(e.Key, "high-availability") || strings.HasPrefix(e.Key, "recovery.") {
			return true
		}
	}
	return false
}

// advertisePodIP makes a standalone JobManager bind and advertise its pod
// IP, which its standbys and TaskManagers find through the HA ConfigMaps.
func advertisePodIP(c *corev1.Container, fp recognise.FlinkPod, cpath string, r *Result) {
	if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == podIPEnv }) {
		c.Env = append(c.Env, corev1.EnvVar{Name: podIPEnv, ValueFrom: &corev1.EnvVarSource{
			FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "status.podIP"}}})
		r.changed(RulePodIP, warning("%s.env: added POD_IP from status.podIP for the JobManager's HA address", cpath))
	}
	const ref = "$(" + podIPEnv + ")"
	if len(c.Args) == 0 {
		return
	}
	if fp.Application {
		if slices.Contains(c.Args, "--host") || slices.Contains(c.Args, "-h") {
			return
		}
		c.Args = slices.Insert(c.Args, 1, "--host", ref)
		r.changed(RulePodIP, warning("%s.args: added --host %s: an HA JobManager must advertise its pod IP", cpath, ref))
		return
	}
	switch {
	case len(c.Args) == 1 || strings.HasPrefix(c.Args[1], "-"):
		c.Args = slices.Insert(c.Args, 1, ref)
		r.changed(RulePodIP, warning("%s.args: added %s: an HA JobManager must advertise its pod IP", cpath, ref))
	case c.Args[1] != ref:
		r.Notes = append(r.Notes, warning("%s.args: the JobManager advertises %q; with HA its standbys need %s", cpath, c.Args[1], ref))
	}
}

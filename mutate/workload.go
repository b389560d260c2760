package mutate

import (
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flink-ha-webhook/flink-ha-webhook/cluster"
	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
)

// More rules, as Result.Counts names them.
const (
	RuleServiceAccount = "service-account"
	RulePodIP          = "pod-ip"
)

// podIPEnv is the variable the Flink docs give an HA JobManager.
const podIPEnv = cluster.PodIPEnv

// Workload applies the workload rules to the pod template of a Deployment,
// StatefulSet or Job that runs Flink:
//
//   - pods that run under no account, or "default", get the policy's account,
//     which may manage the HA ConfigMaps (native JobManagers, whose account
//     must also manage pods, are left to Flink's own setting);
//   - an HA standalone JobManager advertises its pod IP, as HA requires: the
//     POD_IP variable from status.podIP and -D jobmanager.rpc.address, which
//     every Flink version reads (Flink 2 has no --host, and jobmanager's
//     positional address is deprecated since 1.16);
//   - where the container is configured through FLINK_PROPERTIES or -D
//     arguments rather than a mounted ConfigMap, those get the HA keys.
func Workload(meta *metav1.ObjectMeta, tpl *corev1.PodTemplateSpec, p *policy.Policy) Result {
	var r Result
	if p.Exempt(meta.Namespace) {
		return r
	}
	w, ok := cluster.Workload(meta, tpl, p)
	if !ok || w.Decision == policy.Skip || w.Pod.Operator {
		// The operator's standalone pods run what it made of a
		// FlinkDeployment, whose rules ran there: an address or account
		// changed here would disagree with the configuration it wrote.
		return r
	}

	spec := &tpl.Spec
	onDefault := (spec.ServiceAccountName == "" || spec.ServiceAccountName == "default") &&
		(spec.DeprecatedServiceAccount == "" || spec.DeprecatedServiceAccount == "default")
	switch {
	case !w.Pod.Native && onDefault && p.DefaultIdentity != "":
		// Its identity would not follow the pods (policy.KeepingDefault).
		r.note("spec.template.spec.serviceAccountName: kept default, whose %s %s would not carry", p.DefaultIdentity, p.ServiceAccount)
	case !w.Pod.Native && onDefault:
		spec.ServiceAccountName = p.ServiceAccount
		if spec.DeprecatedServiceAccount != "" {
			spec.DeprecatedServiceAccount = p.ServiceAccount
		}
		r.changed(RuleServiceAccount, Warning("spec.template.spec.serviceAccountName: set %s, which may manage Flink's HA ConfigMaps", p.ServiceAccount))
	}

	if w.Pod.Role == "jobmanager" && !w.Pod.Native {
		advertisePodIP(w, &r)
		w, _ = cluster.Workload(meta, tpl, p) // again: the arguments may have changed
	}
	if w.Carried {
		r.add(completeAll(&w.Object, p))
	}
	return r
}

// advertisePodIP makes a standalone JobManager bind and advertise its pod
// IP, which its standbys and TaskManagers find through the HA ConfigMaps.
func advertisePodIP(w *cluster.WorkloadObject, r *Result) {
	c, cpath := w.Container, w.ContainerPath.String()
	var args *flinkconf.Args
	if len(c.Args) > 0 {
		args = w.ParseArgs(c.Args)
	}
	if addr, ok := advertised(w, args); ok && addr != cluster.PodIPRef && fromPodIP(c, addr) {
		return // the pod IP under a name of its own, as the operator's $(_POD_IP_ADDRESS)
	}
	if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == podIPEnv }) {
		c.Env = append(c.Env, corev1.EnvVar{Name: podIPEnv, ValueFrom: &corev1.EnvVarSource{
			FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "status.podIP"}}})
		r.changed(RulePodIP, Warning("%s.env: added POD_IP from status.podIP for the JobManager's HA address", cpath))
	}
	if len(c.Args) == 0 {
		return // a command of its own: nothing to read the address from
	}
	if w.Pre1153 && flinkconf.Entrypoint(c.Args[0]) == flinkconf.EntrypointSession {
		advertisePre1153(w, r)
		return
	}
	if e, ok := args.Get(cluster.RPCAddress); ok {
		if e.Value != cluster.PodIPRef {
			r.note("%s.args: the JobManager advertises %q; with HA its standbys need %s", cpath, e.Value, cluster.PodIPRef)
		}
		return
	}
	host, _ := flinkconf.Positional(c.Args)
	switch flinkconf.Entrypoint(c.Args[0]) {
	case flinkconf.EntrypointApplication:
		if cluster.HostArg(args) >= 0 {
			return // --host is validation's to judge: Flink 2 has none
		}
	case flinkconf.EntrypointSession:
		if host == 1 && !strings.HasPrefix(c.Args[1], "-") {
			// jobmanager's positional address, deprecated since 1.16
			if c.Args[1] != cluster.PodIPRef {
				r.note("%s.args: the JobManager advertises %q; with HA its standbys need %s", cpath, c.Args[1], cluster.PodIPRef)
			}
			return
		}
	default:
		// Not the official image's entrypoint: where its options end
		// is unknown, so nothing is inserted.
		r.note("%s.args[0]: not an entrypoint command: HA needs -D %s=%s", cpath, cluster.RPCAddress, cluster.PodIPRef)
		return
	}
	// A dynamic property right after the entrypoint's command, which every
	// version reads there: standalone-job reads options up to its first
	// program argument and Flink 2 has no --host; jobmanager.sh takes "-D"
	// there as the start of its options, not as a host name, and its
	// positional address is deprecated (FLINK-28735).
	edited := slices.Insert(slices.Clone(c.Args), 1, "-D", cluster.RPCAddress+"="+cluster.PodIPRef)
	again := w.ParseArgs(edited)
	if e, ok := again.Get(cluster.RPCAddress); !ok || e.Value != cluster.PodIPRef || !readsAll(again, args) {
		r.note("%s.args: -D %s=%s cannot go right after %s without changing how Flink reads the rest; add it by hand",
			cpath, cluster.RPCAddress, cluster.PodIPRef, c.Args[0])
		return
	}
	if host == 1 {
		// "-Dkey=value" or "--webui-port" where jobmanager.sh wants a
		// host name: behind the new "-D" Flink reads it as meant.
		r.note("%s.args: argument 1 (%s) is no longer a host name but an option", cpath, excerpt(c.Args[1]))
	}
	c.Args = edited
	r.changed(RulePodIP, Warning("%s.args: added -D %s=%s: HA advertises the pod IP", cpath, cluster.RPCAddress, cluster.PodIPRef))
}

// advertised returns the address a standalone JobManager's arguments, read
// as parsed, give it: -D jobmanager.rpc.address, else jobmanager's
// positional host.
func advertised(w *cluster.WorkloadObject, parsed *flinkconf.Args) (string, bool) {
	if parsed == nil {
		return "", false
	}
	if e, ok := parsed.Get(cluster.RPCAddress); ok {
		return e.Value, true
	}
	args := parsed.Args()
	host, _ := flinkconf.Positional(args)
	if w.Pre1153 {
		host, _ = flinkconf.PositionalPre1153(args)
	}
	if host == 1 && !strings.HasPrefix(args[1], "-") {
		return args[1], true
	}
	return "", false
}

// fromPodIP reports whether ref is "$(NAME)" for a variable of c that
// Kubernetes sets to the pod's IP (status.podIP); the last definition of a
// name is the one that counts.
func fromPodIP(c *corev1.Container, ref string) bool {
	name, ok := strings.CutPrefix(ref, "$(")
	if !ok {
		return false
	}
	if name, ok = strings.CutSuffix(name, ")"); !ok || name == "" {
		return false
	}
	for i := len(c.Env) - 1; i >= 0; i-- {
		if e := c.Env[i]; e.Name == name {
			return e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "status.podIP"
		}
	}
	return false
}

// advertisePre1153 is advertisePodIP for jobmanager on the 1.15.0 to
// 1.15.2 images: their jobmanager.sh hands Flink no -D, only its first
// argument as --host (flinkconf.PositionalPre1153), so that is where the
// pod IP goes. A "-D" there would be taken for the host name and the next
// argument for the web UI port, and the JobManager would not start.
func advertisePre1153(w *cluster.WorkloadObject, r *Result) {
	c, cpath := w.Container, w.ContainerPath.String()
	if host, _ := flinkconf.PositionalPre1153(c.Args); host == 1 {
		if c.Args[1] != cluster.PodIPRef {
			r.note("%s.args: the JobManager advertises %q; with HA its standbys need %s", cpath, c.Args[1], cluster.PodIPRef)
		}
		return
	}
	if len(c.Args) > 1 && flinkconf.ShellWords(c.Args[1]) > 1 {
		// Words the script's test fails on: no host name, but the
		// user's, so it stays.
		r.note("%s.args[1]: %s is no host name to jobmanager.sh; with HA it must be %s", cpath, excerpt(c.Args[1]), cluster.PodIPRef)
		return
	}
	edited := slices.Clone(c.Args)
	if len(edited) == 1 {
		edited = append(edited, cluster.PodIPRef)
	} else {
		edited[1] = cluster.PodIPRef // empty: no host until now
	}
	c.Args = edited
	r.changed(RulePodIP, Warning("%s.args[1]: set %s, the JobManager's HA address (Flink 1.15.0-1.15.2 reads no -D)", cpath, cluster.PodIPRef))
}

// readsAll reports whether every property Flink reads in old it still reads
// in edited, with the same value.
func readsAll(edited, old *flinkconf.Args) bool {
	for _, e := range old.Entries() {
		if got, ok := edited.Get(e.Key); !ok || got.Value != e.Value {
			return false
		}
	}
	return true
}

// excerpt quotes an argument for a message, cut short.
func excerpt(s string) string {
	if r := []rune(s); len(r) > 24 {
		s = string(r[:21]) + "..."
	}
	return strconv.Quote(s)
}

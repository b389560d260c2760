package cluster

import (
	"cmp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
	"github.com/flink-ha-webhook/flink-ha-webhook/recognise"
)

// EnvProperties is the official image's variable of configuration lines.
const EnvProperties = "FLINK_PROPERTIES"

// RPCAddress is the address a JobManager binds and advertises; with HA its
// standbys and TaskManagers find it through the HA ConfigMaps, so it must be
// the pod's IP.
const RPCAddress = "jobmanager.rpc.address"

// WorkloadObject is what the rules know about a Deployment, StatefulSet or
// Job that runs Flink.
type WorkloadObject struct {
	Object
	Pod recognise.FlinkPod
	// Container is the container running Flink, at ContainerPath.
	Container     *corev1.Container
	ContainerPath *field.Path
	// Carried is true when the container carries its configuration itself
	// (FLINK_PROPERTIES or -D arguments, no mounted configuration).
	Carried bool
	// Unreadable is a FLINK_PROPERTIES that cannot be read.
	Unreadable *Unreadable
	// Ignored is a FLINK_PROPERTIES that the release lines it names never
	// apply: the image's entrypoint cannot write it into the read-only
	// mounted configuration.
	Ignored *Ignored
	// ArgsWarnings is what Flink makes of the container's arguments beyond
	// the properties it reads: -D it passes to the program, arguments it
	// refuses, a -D jobmanager.sh takes for a host name.
	ArgsWarnings []flinkconf.Warning
	// Pre1153 is true when the image is Flink 1.15.0 to 1.15.2, whose
	// jobmanager.sh hands Flink no -D (flinkconf.ImagePre1153).
	Pre1153 bool
}

// Ignored is a FLINK_PROPERTIES that some release lines never apply.
type Ignored struct {
	Path     *field.Path
	Versions flinkconf.Range
}

// Workload says what the pod template tpl of the object with metadata meta
// runs; false when it runs no Flink. Edits of its configurations change
// tpl when stored.
func Workload(meta *metav1.ObjectMeta, tpl *corev1.PodTemplateSpec, p *policy.Policy) (*WorkloadObject, bool) {
	fp, ok := recognise.PodTemplate(meta.Labels, tpl)
	if !ok {
		return nil, false
	}
	c := &tpl.Spec.Containers[fp.Container]
	paths := containerPathsOf(fp.Container)
	w := &WorkloadObject{
		Object:        Object{Mode: Standalone, Versions: flinkconf.Supported, Namespace: meta.Namespace},
		Pod:           fp,
		Container:     c,
		ContainerPath: paths.container,
	}
	if fp.Native {
		w.Mode = Native
	}
	if v, ok := flinkconf.ImageVersion(c.Image); ok {
		w.Versions, w.VersionFrom = flinkconf.Exactly(v), "image "+c.Image
		w.Pre1153 = flinkconf.ImagePre1153(c.Image)
	}
	w.read(paths)
	w.decide(p, meta.Annotations)
	for _, cfg := range w.Configs {
		cfg.Decision = w.Decision // one container, one decision
	}
	return w, true
}

// read builds the container's configurations: FLINK_PROPERTIES under the
// rules of each release line that may run it, then the -D arguments.
func (w *WorkloadObject) read(paths containerPaths) {
	c := w.Container
	argsPath, envPath := paths.args, paths.properties
	// Read as the entrypoint of every release line that may run the
	// container reads them: its parser stops at the first argument that
	// is no option, and new properties go before that point.
	args := w.ParseArgs(c.Args)
	w.ArgsWarnings = args.Warnings()
	// Where the lines that may run it stop reading options at different
	// arguments (an option only some of them know, such as jobmanager's
	// --webui-port up to 1.20), each part of them reads the -D it reads:
	// a property only some lines read is what those lines run with.
	// Edits go to args, the reading every line shares, before the first
	// stop.
	readings := []argsReading{{w.Versions, args}}
	if lines := args.Lines(); len(lines) > 1 {
		readings = make([]argsReading, 0, len(lines))
		for _, l := range lines {
			readings = append(readings, argsReading{l, flinkconf.ParseArgs(c.Args, l)})
		}
	}
	// The JobManager's own address, which HA makes its pod IP, is no
	// configuration the container carries.
	hasArgs := slices.ContainsFunc(readings, func(r argsReading) bool {
		return slices.ContainsFunc(r.args.Entries(), func(e flinkconf.Entry) bool { return e.Key != RPCAddress })
	})

	i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == EnvProperties })
	// Each release line that may run the container reads FLINK_PROPERTIES
	// by the old rules (up to 1.18) or the new (from 1.19): the text is
	// parsed once by each set of rules some of them follow. The old
	// reading is also where edits go.
	oldLines, readsOld := w.Versions.Intersect(flinkconf.Range{Max: flinkconf.V1_18})
	newLines, readsNew := w.Versions.Intersect(flinkconf.Range{Min: flinkconf.PropertiesNested, Max: flinkconf.Version{Major: 99}})
	// Over a read-only mounted configuration the entrypoint's write of
	// FLINK_PROPERTIES fails without a word, and Flink reads the mount as
	// it is: every line writes into a mounted conf directory or
	// flink-conf.yaml (from 1.19 config-parser-utils.sh writes
	// flink-conf.yaml where it exists); up to 1.18 the entrypoint writes
	// the image's own flink-conf.yaml beside a mounted config.yaml, which
	// those lines do not read either.
	appliesOld, appliesNew := readsOld, readsNew
	if w.Pod.ConfigMounted {
		appliesNew = false
		if w.Pod.Mount.File != recognise.KeyStandard {
			appliesOld = false
		} else if !readsNew {
			w.Pod.ConfigMounted = false // no line that may run it reads or writes the mount
		}
	}
	var legacy *flinkconf.Legacy
	var props *flinkconf.Properties
	// An empty FLINK_PROPERTIES is one the entrypoint skips anyway.
	given := i >= 0 && (c.Env[i].Value != "" || c.Env[i].ValueFrom != nil)
	if i >= 0 && !appliesOld && !appliesNew {
		if given {
			w.Ignored = &Ignored{Path: envPath.path, Versions: w.Versions}
		}
	} else if i >= 0 {
		if given && !appliesNew && readsNew {
			w.Ignored = &Ignored{Path: envPath.path, Versions: newLines}
		}
		if c.Env[i].ValueFrom == nil {
			var err error
			text := []byte(c.Env[i].Value)
			// Both parsers refuse the same texts (checkText), so the new
			// rules are not needed to know that the old can read it.
			if legacy, err = flinkconf.ParseLegacy(text); err == nil && appliesNew {
				props, err = flinkconf.ParseProperties(text)
			}
			if err != nil {
				w.Unreadable = &Unreadable{Path: envPath.path, Err: err}
				legacy, props = nil, nil
			}
		}
	}
	w.Carried = !w.Pod.ConfigMounted && (legacy != nil || hasArgs)

	// The configuration is edited where the user put it: -D arguments
	// that already set HA keys win over FLINK_PROPERTIES, which wins over
	// other -D.
	var edit flinkconf.Source
	var editPath *field.Path
	var store func()
	switch {
	case hasArgs && (setsHA(args) || legacy == nil):
		edit, editPath, store = args, argsPath.path, func() { c.Args = args.Args() }
	case legacy != nil:
		edit, editPath, store = legacy, envPath.path, func() { c.Env[i].Value = string(legacy.Bytes()) }
	}

	// The rules the environment is read by, each for some lines.
	type envRules struct {
		versions flinkconf.Range
		nested   bool
		env      flinkconf.Source
	}
	rules := make([]envRules, 0, 2)
	switch {
	case legacy == nil && !hasArgs:
		return
	case legacy == nil:
		rules = append(rules, envRules{w.Versions, false, nil})
	default:
		// Images older or newer than the supported lines read it as the
		// oldest or newest do; lines that ignore it read the -D only.
		if readsOld {
			rules = append(rules, envRules{oldLines, false, legacy})
		}
		switch {
		case readsNew && props != nil:
			rules = append(rules, envRules{newLines, true, props})
		case readsNew && hasArgs:
			rules = append(rules, envRules{newLines, false, nil})
		}
	}
	// The lines that stop reading arguments first come first: the first
	// configuration of an edit is the one the mutating rules complete
	// (mutate.completeAll), and it must read what every line reads.
	slices.SortStableFunc(readings, func(a, b argsReading) int { return cmp.Compare(a.args.OptionsEnd(), b.args.OptionsEnd()) })
	w.Configs = make([]*Configuration, 0, len(rules)*len(readings))
	for _, r := range readings {
		for _, e := range rules {
			lines, ok := r.lines.Intersect(e.versions)
			if !ok {
				continue
			}
			layers, named := make([]flinkconf.Layer, 0, 2), make([]fieldPath, 0, 2)
			if e.env != nil {
				layers, named = append(layers, layer(envPath, e.env)), append(named, envPath)
			}
			if hasArgs {
				layers, named = append(layers, layer(argsPath, r.args)), append(named, argsPath)
			}
			w.Configs = append(w.Configs, stacked(Configuration{
				Path: named[0].path, Versions: lines, Nested: e.nested,
				Standalone: w.Mode == Standalone, Overrides: w.Pod.ConfigMounted,
				Edit: edit, EditPath: editPath, Store: store,
			}, layers, named))
		}
	}
}

// ParseArgs reads args, arguments of the container, as the entrypoint of
// its image does on every release line it may run.
func (w *WorkloadObject) ParseArgs(args []string) *flinkconf.Args {
	if w.Pre1153 {
		return flinkconf.ParseArgsPre1153(args)
	}
	return flinkconf.ParseArgs(args, w.Versions)
}

// argsReading is the -D arguments as some release lines read them.
type argsReading struct {
	lines flinkconf.Range
	args  *flinkconf.Args
}

// setsHA reports whether the arguments set any HA key.
func setsHA(args *flinkconf.Args) bool {
	for _, e := range args.Entries() {
		if strings.HasPrefix(e.Key, "high-availability") || strings.HasPrefix(e.Key, "recovery.") {
			return true
		}
	}
	return false
}

// Nested reports whether some release line reads a configuration of the
// object as nested YAML.
func (o *Object) Nested() bool {
	return slices.ContainsFunc(o.Configs, func(c *Configuration) bool { return c.Nested })
}

// PodIPEnv is the variable the Flink docs give an HA JobManager, from
// status.podIP; PodIPRef is how an argument refers to it.
const (
	PodIPEnv = "POD_IP"
	PodIPRef = "$(" + PodIPEnv + ")"
)

// HostArg returns the index of a --host (or -h) option among the
// arguments of standalone-job, or -1. Flink 2 has no such option: it ends
// option parsing there, so the job class and its arguments become program
// arguments. One after the point where every release line of args stops
// reading options is the program's own argument, and no option.
func HostArg(args *flinkconf.Args) int {
	all := args.Args()
	for i, a := range all[:min(args.OptionsEnd()+1, len(all))] {
		if a == "--host" || a == "-h" || strings.HasPrefix(a, "--host=") {
			return i
		}
	}
	return -1
}

// Mounting returns the configurations Flink reads in the container with cm
// mounted as its configuration: each file of cm under what the container
// sets over it (its -D arguments; FLINK_PROPERTIES only where a line
// applies it), for the release lines that read both. They are read, never
// edited: the rules edit the file and the container each where it is
// written. Where none of the container's release lines reads a file of cm
// (a Flink 2 image and only flink-conf.yaml), they are the container's own.
// A file mounted alone by subPath is the one file of cm Flink reads, under
// the name it is mounted as.
func (w *WorkloadObject) Mounting(cm *ConfigMapObject) []*Configuration {
	var out []*Configuration
	mount := w.Pod.Mount
	for _, f := range cm.Configs {
		readBy := f.Versions
		if mount.File != "" {
			if mount.Key != mount.File || f.Path.String() != dataPathOf(mount.Key).name {
				continue // another file of cm, or one Flink reads under another name
			}
			// Alone in the image's directory, whatever else cm holds.
			readBy = fileVersions(mount.File, nil)
		}
		versions, ok := beyondSupported(readBy).Intersect(w.Versions)
		if !ok {
			continue
		}
		over := w.Configs
		if len(over) == 0 {
			over = []*Configuration{nil} // the file alone
		}
		for _, c := range over {
			m := Configuration{Path: f.Path, Versions: versions, Nested: f.Nested, Standalone: w.Mode == Standalone, Decision: w.Decision}
			var layerBuf [3]flinkconf.Layer
			var pathBuf [3]fieldPath
			layers, paths := append(layerBuf[:0], f.Config.Layers...), append(pathBuf[:0], f.paths...)
			if c != nil {
				if m.Versions, ok = versions.Intersect(c.Versions); !ok {
					continue
				}
				m.Nested = m.Nested || c.Nested
				layers, paths = append(layers, c.Config.Layers...), append(paths, c.paths...)
			}
			mc := stacked(m, layers, paths)
			mc.HA = mc.Config.HAIn(mc.Versions)
			out = append(out, mc)
		}
	}
	if len(out) == 0 {
		return w.Configs
	}
	return out
}

// beyondSupported widens the release lines that read a file to the images
// older or newer than the supported lines where it reaches the oldest or
// newest of them: those images read it as the oldest or newest do.
func beyondSupported(r flinkconf.Range) flinkconf.Range {
	if r.Min == flinkconf.Supported.Min {
		r.Min = flinkconf.Version{}
	}
	if r.Max == flinkconf.Supported.Max {
		r.Max = flinkconf.Version{Major: 99}
	}
	return r
}

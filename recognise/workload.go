package recognise

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Role is the part a Flink pod plays.
type Role string

// The roles of Flink pods.
const (
	JobManager  Role = "jobmanager"
	TaskManager Role = "taskmanager"
)

// FlinkPod is what a pod template says about the Flink process it runs.
type FlinkPod struct {
	Role Role
	// Container is the index of the container running Flink.
	Container int
	// Native marks pods Flink itself creates (label type:
	// flink-native-kubernetes): their accounts also need pod rights.
	Native bool
	// Operator marks pods the operator creates for a FlinkDeployment in
	// standalone mode (label type: flink-standalone-kubernetes), from the
	// FlinkDeployment's configuration: what it runs was decided there.
	Operator bool
	// Application marks a standalone application-mode JobManager
	// ("standalone-job").
	Application bool
	// ConfigMounted is true when Flink's conf directory, or its
	// configuration file by subPath, is a read-only mount: Flink reads the
	// mounted configuration as it is, and the image's entrypoint cannot
	// write FLINK_PROPERTIES into it. -D arguments still apply.
	ConfigMounted bool
	// Mount is that mount, when ConfigMounted.
	Mount ConfigMount
}

// ConfigMount is a read-only mount of Flink's configuration.
type ConfigMount struct {
	// Path is where it is mounted.
	Path string
	// File is the configuration file mounted alone by subPath
	// (flink-conf.yaml or config.yaml); "" for the whole conf directory.
	File string
	// ConfigMap names the ConfigMap shown there; "" for another kind of
	// volume (a Secret, a read-only PVC), which the rules cannot read.
	ConfigMap string
	// Key is the ConfigMap key shown as File; "" where a subPathExpr
	// names it.
	Key string
}

// entrypoints are the first arguments the official image's entrypoint
// understands, and the role each starts.
var entrypoints = map[string]Role{"jobmanager": JobManager, "standalone-job": JobManager, "taskmanager": TaskManager}

// PodTemplate recognises a Flink JobManager or TaskManager pod template:
// by the official entrypoint's first argument, else by the component label
// Flink's docs and operators use on a container that runs a Flink image or
// is named for its role.
func PodTemplate(objectLabels map[string]string, tpl *corev1.PodTemplateSpec) (FlinkPod, bool) {
	native := objectLabels["type"] == TypeNative || tpl.Labels["type"] == TypeNative
	operator := !native && (objectLabels["type"] == TypeOperatorStandalone || tpl.Labels["type"] == TypeOperatorStandalone)
	component := Role(tpl.Labels["component"])
	if component == "" {
		component = Role(objectLabels["component"])
	}
	for i, c := range tpl.Spec.Containers {
		if len(c.Args) > 0 {
			if role, ok := entrypoints[c.Args[0]]; ok {
				fp := FlinkPod{Role: role, Container: i, Native: native, Operator: operator, Application: c.Args[0] == "standalone-job"}
				fp.Mount, fp.ConfigMounted = MountedConfig(tpl, &c)
				return fp, true
			}
		}
	}
	if component != JobManager && component != TaskManager {
		return FlinkPod{}, false
	}
	for i, c := range tpl.Spec.Containers {
		if strings.Contains(imageName(c.Image), "flink") || c.Name == string(component) || c.Name == "flink-main-container" {
			fp := FlinkPod{Role: component, Container: i, Native: native, Operator: operator}
			fp.Mount, fp.ConfigMounted = MountedConfig(tpl, &c)
			return fp, true
		}
	}
	return FlinkPod{}, false
}

// imageName is the repository part of an image reference, without registry
// host, tag or digest.
func imageName(image string) string {
	if i := strings.IndexAny(image, "@"); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndexByte(image, ':'); i > strings.LastIndexByte(image, '/') {
		image = image[:i]
	}
	if host, rest, ok := strings.Cut(image, "/"); ok && (strings.ContainsAny(host, ".:") || host == "localhost") {
		image = rest
	}
	return image
}

// MountedConfigMap names the ConfigMap a container mounts read-only as
// Flink's configuration; "" when it mounts none.
func MountedConfigMap(tpl *corev1.PodTemplateSpec, c *corev1.Container) string {
	m, _ := MountedConfig(tpl, c)
	return m.ConfigMap
}

// MountedConfig finds a read-only mount of Flink's conf directory
// (/opt/flink/conf, or another directory named conf), or of flink-conf.yaml
// or config.yaml in it by subPath. The image's entrypoint writes
// FLINK_PROPERTIES into that file, and fails there without a word:
// ConfigMap, Secret, downward API and projected volumes are always mounted
// read-only (since Kubernetes 1.10), like any mount with readOnly: true.
// A writable mount (an emptyDir an initContainer filled, a PVC) is not
// one: the entrypoint writes into it as into the image's own directory.
func MountedConfig(tpl *corev1.PodTemplateSpec, c *corev1.Container) (ConfigMount, bool) {
	var file *ConfigMount
	for _, m := range c.VolumeMounts {
		path := strings.TrimSuffix(m.MountPath, "/")
		dir, base := path, ""
		subPath := m.SubPath // a subPathExpr names its key only once the pod runs
		if (subPath != "" || m.SubPathExpr != "") && !confDir(path) {
			// A file mounted alone is a bind mount: the entrypoint can
			// neither append to it nor move a new file over it. The
			// entrypoint writes flink-conf.yaml up to 1.18; from 1.19
			// config-parser-utils.sh writes flink-conf.yaml where it
			// exists, else config.yaml.
			if i := strings.LastIndexByte(path, '/'); i >= 0 {
				dir, base = path[:i], path[i+1:]
			}
			if base != KeyLegacy && base != KeyStandard {
				continue
			}
		}
		if !confDir(dir) {
			continue
		}
		i := slices.IndexFunc(tpl.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == m.Name })
		if i < 0 {
			continue
		}
		v := &tpl.Spec.Volumes[i]
		if !m.ReadOnly && !readOnly(v) {
			continue
		}
		mount := ConfigMount{Path: m.MountPath, File: base}
		switch {
		case v.ConfigMap != nil:
			mount.ConfigMap = v.ConfigMap.Name
			mount.Key = configMapKey(subPath, v.ConfigMap.Items)
		case v.Projected != nil:
			if j := slices.IndexFunc(v.Projected.Sources, func(s corev1.VolumeProjection) bool { return s.ConfigMap != nil }); j >= 0 {
				mount.ConfigMap = v.Projected.Sources[j].ConfigMap.Name
				mount.Key = configMapKey(subPath, v.Projected.Sources[j].ConfigMap.Items)
			}
		}
		if base == "" {
			return mount, true // the whole directory wins over a file in it
		}
		if file == nil {
			file = &mount
		}
	}
	if file != nil {
		return *file, true
	}
	return ConfigMount{}, false
}

// confDir reports whether path is Flink's conf directory as the rules
// know it.
func confDir(path string) bool {
	return path == "/opt/flink/conf" || strings.HasSuffix(path, "/conf")
}

// readOnly reports whether the kubelet mounts v read-only whatever the
// mount says: the API data volumes always, a PVC marked readOnly.
func readOnly(v *corev1.Volume) bool {
	return v.ConfigMap != nil || v.Secret != nil || v.DownwardAPI != nil || v.Projected != nil ||
		v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ReadOnly
}

// configMapKey is the key of a ConfigMap volume shown at subPath: the item
// mapped to that path, else the key of that name; "" for no subPath.
func configMapKey(subPath string, items []corev1.KeyToPath) string {
	if subPath == "" {
		return ""
	}
	if i := slices.IndexFunc(items, func(k corev1.KeyToPath) bool { return k.Path == subPath }); i >= 0 {
		return items[i].Key
	}
	return subPath
}

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
	// Application marks a standalone application-mode JobManager
	// ("standalone-job").
	Application bool
	// ConfigMounted is true when a ConfigMap is mounted as Flink's conf
	// directory: the configuration lives there, not in env or args.
	ConfigMounted bool
}

// entrypoints are the first arguments the official image's entrypoint
// understands, and the role each starts.
var entrypoints = map[string]Role{"jobmanager": JobManager, "standalone-job": JobManager, "taskmanager": TaskManager}

// PodTemplate recognises a Flink JobManager or TaskManager pod template:
// by the official entrypoint's first argument, else by the component label
// Flink's docs and operators use on a container that runs a Flink image or
// is named for its role.
func PodTemplate(objectLabels map[string]string, tpl *corev1.PodTemplateSpec) (FlinkPod, bool) {
	native := objectLabels["type"] == "flink-native-kubernetes" || tpl.Labels["type"] == "flink-native-kubernetes"
	component := Role(tpl.Labels["component"])
	if component == "" {
		component = Role(objectLabels["component"])
	}
	for i, c := range tpl.Spec.Containers {
		if len(c.Args) > 0 {
			if role, ok := entrypoints[c.Args[0]]; ok {
				return FlinkPod{Role: role, Container: i, Native: native, Application: c.Args[0] == "standalone-job",
					ConfigMounted: configMounted(tpl, c)}, true
			}
		}
	}
	if component != JobManager && component != TaskManager {
		return FlinkPod{}, false
	}
	for i, c := range tpl.Spec.Containers {
		if strings.Contains(imageName(c.Image), "flink") || c.Name == string(component) || c.Name == "flink-main-container" {
			return FlinkPod{Role: component, Container: i, Native: native, ConfigMounted: configMounted(tpl, c)}, true
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

func configMounted(tpl *corev1.PodTemplateSpec, c corev1.Container) bool {
	return MountedConfigMap(tpl, &c) != ""
}

// MountedConfigMap names the ConfigMap a container mounts as Flink's conf
// directory (/opt/flink/conf, or another directory named conf), directly or
// as the first ConfigMap of a projected volume; "" when it mounts none.
func MountedConfigMap(tpl *corev1.PodTemplateSpec, c *corev1.Container) string {
	for _, m := range c.VolumeMounts {
		if m.MountPath != "/opt/flink/conf" && !strings.HasSuffix(strings.TrimSuffix(m.MountPath, "/"), "/conf") {
			continue
		}
		i := slices.IndexFunc(tpl.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == m.Name })
		if i < 0 {
			continue
		}
		v := tpl.Spec.Volumes[i]
		if v.ConfigMap != nil {
			return v.ConfigMap.Name
		}
		if v.Projected != nil {
			if j := slices.IndexFunc(v.Projected.Sources, func(s corev1.VolumeProjection) bool { return s.ConfigMap != nil }); j >= 0 {
				return v.Projected.Sources[j].ConfigMap.Name
			}
		}
	}
	return ""
}

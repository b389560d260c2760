package fleet

import (
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/flink-ha-webhook/flink-ha-webhook/cluster"
	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
	"github.com/flink-ha-webhook/flink-ha-webhook/recognise"
)

// Mode is how a Flink cluster is deployed.
type Mode string

// The ways a Flink cluster is deployed.
const (
	// Standalone clusters are JobManager and TaskManager workloads the
	// user writes, configured by a mounted ConfigMap, FLINK_PROPERTIES or
	// -D arguments.
	Standalone Mode = "standalone"
	// Native clusters are JobManager Deployments Flink itself creates
	// (flink run-application / kubernetes-session.sh).
	Native Mode = "native"
	// Operator clusters are FlinkDeployments of the Flink Kubernetes
	// Operator, which runs them natively.
	Operator Mode = "operator"
)

// HAState is what a configuration makes of high availability.
type HAState string

// The HA states a cluster can be in.
const (
	HAOn          HAState = "on"          // Kubernetes HA
	HAZooKeeper   HAState = "zookeeper"   // ZooKeeper HA
	HACustom      HAState = "custom"      // a factory class the webhook does not know
	HAOff         HAState = "off"         // none
	HAConflicting HAState = "conflicting" // the HA keys disagree between spellings or sources
)

// Identity is what one object says about the Flink cluster it belongs to.
type Identity struct {
	// Key is shared by every object of one cluster: a configuration
	// ConfigMap and the JobManagers mounting it, a FlinkDeployment and the
	// native cluster the operator runs for it.
	Key string
	// Object names the object, as Kind/name.
	Object    string
	Namespace string
	// ClusterID is kubernetes.cluster-id (a FlinkDeployment's name); empty
	// when the configuration sets none.
	ClusterID string
	Mode      Mode
	HA        HAState
	// StorageDir is high-availability.storageDir as configured.
	StorageDir string
	// StoragePath is where Flink keeps this cluster's HA data:
	// storageDir/high-availability.cluster-id. Empty when HA is off or has
	// no storageDir.
	StoragePath string
	// Versions are the Flink release lines the cluster may run.
	Versions flinkconf.Range
	// Account is the JobManager's service account ("default" when the pod
	// names none); empty for objects that run no JobManager.
	Account string
	// JobManager marks objects that run (or make the operator run) a
	// JobManager, rather than only configure one.
	JobManager bool
}

// ConfigMaps finds a ConfigMap of the object's namespace by name, or nil.
type ConfigMaps func(name string) *corev1.ConfigMap

// Identify reads the cluster identity of a Flink object: a Flink
// configuration ConfigMap, a JobManager Deployment, StatefulSet or Job, or a
// FlinkDeployment (*unstructured.Unstructured). TaskManagers, HA ConfigMaps
// and other objects say nothing (false): they do not define a cluster.
// configMaps resolves the ConfigMap a JobManager mounts as its conf
// directory; nil when none is known.
func Identify(obj metav1.Object, configMaps ConfigMaps) (Identity, bool) {
	switch o := obj.(type) {
	case *corev1.ConfigMap:
		return configMapIdentity(o)
	case *appsv1.Deployment:
		return workloadIdentity("Deployment", &o.ObjectMeta, &o.Spec.Template, configMaps)
	case *appsv1.StatefulSet:
		return workloadIdentity("StatefulSet", &o.ObjectMeta, &o.Spec.Template, configMaps)
	case *batchv1.Job:
		return workloadIdentity("Job", &o.ObjectMeta, &o.Spec.Template, configMaps)
	case *unstructured.Unstructured:
		if o.GetKind() == "FlinkDeployment" {
			return flinkDeploymentIdentity(o)
		}
	}
	return Identity{}, false
}

// nativeConfigPrefix names the ConfigMap Flink writes for a native cluster:
// flink-config-<cluster-id>.
const nativeConfigPrefix = "flink-config-"

func nativeKey(namespace, clusterID string) string { return namespace + "/native/" + clusterID }

func configMapKey(namespace, name string) string { return namespace + "/ConfigMap/" + name }

func configMapIdentity(cm *corev1.ConfigMap) (Identity, bool) {
	if _, ha := recognise.HAConfigMap(cm.Name, cm.Labels); ha || cm.Labels["app.kubernetes.io/name"] == "flink-kubernetes-operator" {
		return Identity{}, false // HA data, or the operator's own defaults
	}
	layers := ConfigMapLayers(cm)
	if len(layers) == 0 {
		return Identity{}, false
	}
	id := Identity{Key: configMapKey(cm.Namespace, cm.Name), Object: "ConfigMap/" + cm.Name, Namespace: cm.Namespace,
		Mode: Standalone, Versions: flinkconf.Supported}
	cfg := &flinkconf.Config{Layers: layers}
	if cid, ok := strings.CutPrefix(cm.Name, nativeConfigPrefix); ok && cm.Labels["type"] == "flink-native-kubernetes" {
		id.Mode, id.Key = Native, nativeKey(cm.Namespace, cid)
		id.ClusterID = cid
	}
	if _, ok := cm.Data[recognise.KeyLegacy]; !ok {
		id.Versions.Min = flinkconf.V1_19 // config.yaml alone: only 1.19+ reads it
	}
	id.read(cfg)
	return id, true
}

// ConfigMapLayers returns the Flink configuration a ConfigMap holds, in the
// order Flink reads it: where a 1.19 or 1.20 image finds both files,
// flink-conf.yaml wins, so it is the later layer. Files that do not parse
// are left out (validation says why).
func ConfigMapLayers(cm *corev1.ConfigMap) []flinkconf.Layer {
	var layers []flinkconf.Layer
	keys := recognise.ConfigKeys(cm)
	slices.Reverse(keys) // config.yaml, then flink-conf.yaml
	for _, key := range keys {
		src, err := flinkconf.ParseFile(key, []byte(cm.Data[key]))
		if err != nil {
			continue
		}
		layers = append(layers, flinkconf.Layer{Name: fmt.Sprintf("ConfigMap/%s data[%s]", cm.Name, key), Source: src})
	}
	return layers
}

// ContainerLayers returns the configuration a container carries itself, in
// the order Flink applies it after the configuration file: a literal
// FLINK_PROPERTIES, then -D arguments.
func ContainerLayers(c *corev1.Container) []flinkconf.Layer {
	var layers []flinkconf.Layer
	if i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "FLINK_PROPERTIES" }); i >= 0 && c.Env[i].ValueFrom == nil {
		if env, err := flinkconf.ParseLegacy([]byte(c.Env[i].Value)); err == nil {
			layers = append(layers, flinkconf.Layer{Name: "containers[" + c.Name + "].env[FLINK_PROPERTIES]", Source: env})
		}
	}
	if args := flinkconf.ParseArgs(c.Args, len(c.Args)); len(args.Entries()) > 0 {
		layers = append(layers, flinkconf.Layer{Name: "containers[" + c.Name + "].args", Source: args})
	}
	return layers
}

// MountedConfigMap names the ConfigMap a container mounts as Flink's conf
// directory, or "".
func MountedConfigMap(tpl *corev1.PodTemplateSpec, c *corev1.Container) string {
	for _, m := range c.VolumeMounts {
		if m.MountPath != "/opt/flink/conf" && !strings.HasSuffix(strings.TrimSuffix(m.MountPath, "/"), "/conf") {
			continue
		}
		for _, v := range tpl.Spec.Volumes {
			if v.Name != m.Name {
				continue
			}
			if v.ConfigMap != nil {
				return v.ConfigMap.Name
			}
			if v.Projected != nil {
				for _, s := range v.Projected.Sources {
					if s.ConfigMap != nil {
						return s.ConfigMap.Name
					}
				}
			}
		}
	}
	return ""
}

func workloadIdentity(kind string, meta *metav1.ObjectMeta, tpl *corev1.PodTemplateSpec, configMaps ConfigMaps) (Identity, bool) {
	fp, ok := recognise.PodTemplate(meta.Labels, tpl)
	if !ok || fp.Role != recognise.JobManager {
		return Identity{}, false
	}
	c := &tpl.Spec.Containers[fp.Container]
	id := Identity{Key: meta.Namespace + "/" + kind + "/" + meta.Name, Object: kind + "/" + meta.Name, Namespace: meta.Namespace,
		Mode: Standalone, Versions: flinkconf.Supported, Account: tpl.Spec.ServiceAccountName, JobManager: true}
	if id.Account == "" {
		id.Account = "default"
	}
	if v, ok := flinkconf.ImageVersion(c.Image); ok {
		id.Versions = flinkconf.Exactly(v)
	}
	cfg := &flinkconf.Config{}
	if name := MountedConfigMap(tpl, c); name != "" {
		id.Key = configMapKey(meta.Namespace, name)
		if configMaps != nil {
			if cm := configMaps(name); cm != nil {
				cfg.Layers = ConfigMapLayers(cm)
			}
		}
	}
	cfg.Layers = append(cfg.Layers, ContainerLayers(c)...)
	if fp.Native {
		id.Mode = Native
		if cid := meta.Labels["app"]; cid != "" {
			id.ClusterID = cid
			id.Key = nativeKey(meta.Namespace, cid)
		}
	}
	id.read(cfg)
	return id, true
}

func flinkDeploymentIdentity(u *unstructured.Unstructured) (Identity, bool) {
	id := Identity{Key: nativeKey(u.GetNamespace(), u.GetName()), Object: "FlinkDeployment/" + u.GetName(), Namespace: u.GetNamespace(),
		ClusterID: u.GetName(), Mode: Operator, Versions: flinkconf.Supported, JobManager: true}
	version, _, _ := unstructured.NestedString(u.Object, "spec", "flinkVersion")
	image, _, _ := unstructured.NestedString(u.Object, "spec", "image")
	if v, ok := flinkconf.OperatorVersion(version); ok {
		id.Versions = flinkconf.Exactly(v)
	} else if v, ok := flinkconf.ImageVersion(image); ok {
		id.Versions = flinkconf.Exactly(v)
	}
	id.Account, _, _ = unstructured.NestedString(u.Object, "spec", "serviceAccount")
	fc, _, _ := unstructured.NestedMap(u.Object, "spec", "flinkConfiguration")
	cfg := &flinkconf.Config{}
	if conf, err := flinkconf.ParseObject(fc); err == nil {
		conf.Legacy = !id.Versions.AnyAtLeast(cluster.OperatorNested) // the operator writes flat flink-conf.yaml before 2.0
		cfg.Layers = []flinkconf.Layer{{Name: "spec.flinkConfiguration", Source: conf}}
	}
	id.read(cfg)
	return id, true
}

// haOptions are the options whose disagreement makes HA conflicting.
var haOptions = []flinkconf.Option{flinkconf.HAType, flinkconf.HAStorageDir, flinkconf.HAClusterID, flinkconf.ClusterID}

// read fills in what the configuration says: the cluster-id (unless the
// object itself names it), the HA state, the storageDir and the HA storage
// path.
func (id *Identity) read(cfg *flinkconf.Config) {
	if id.ClusterID == "" {
		if s, ok := cfg.Lookup(flinkconf.ClusterID); ok {
			id.ClusterID = s.Value
		}
	}
	mode, _, _ := cfg.HA()
	switch mode {
	case flinkconf.HAKubernetes:
		id.HA = HAOn
	case flinkconf.HAZooKeeper:
		id.HA = HAZooKeeper
	case flinkconf.HAFactory:
		id.HA = HACustom
	default:
		id.HA = HAOff
	}
	for _, c := range cfg.Conflicts() {
		if c.Kind == flinkconf.ConflictSpellings || c.Kind == flinkconf.ConflictLayers {
			if slices.ContainsFunc(haOptions, func(o flinkconf.Option) bool { return slices.Contains(o.Keys(), c.Settings[0].Key) }) {
				id.HA = HAConflicting
			}
		}
	}
	if s, ok := cfg.Lookup(flinkconf.HAStorageDir); ok {
		id.StorageDir = s.Value
	}
	if id.HA == HAOff || id.StorageDir == "" {
		return
	}
	haClusterID := "/default" // Flink's default: every standalone cluster without one shares it
	if id.Mode != Standalone && id.ClusterID != "" {
		haClusterID = id.ClusterID // Flink and the operator set it to the cluster-id in native mode
	}
	if s, ok := cfg.Lookup(flinkconf.HAClusterID); ok {
		haClusterID = s.Value
	}
	id.StoragePath = StoragePath(id.StorageDir, haClusterID)
}

// StoragePath is where Flink keeps a cluster's HA data: the cluster-id
// under the storageDir, as Flink's Path joins them (a leading slash of the
// cluster-id does not make it absolute).
func StoragePath(storageDir, haClusterID string) string {
	return strings.TrimRight(storageDir, "/") + "/" + strings.TrimLeft(haClusterID, "/")
}

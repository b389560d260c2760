package fleet

import (
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/flink-ha-webhook/flink-ha-webhook/cluster"
	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
	"github.com/flink-ha-webhook/flink-ha-webhook/recognise"
)

// Mode is how a Flink cluster is deployed: the model's own mode.
type Mode = cluster.Mode

// The ways a Flink cluster is deployed.
const (
	Standalone = cluster.Standalone
	Native     = cluster.Native
	Operator   = cluster.Operator
)

// HAState is what a configuration makes of high availability.
type HAState string

// The HA states a cluster can be in.
const (
	HAOn          HAState = "on"          // Kubernetes HA
	HAZooKeeper   HAState = "zookeeper"   // ZooKeeper HA
	HACustom      HAState = "custom"      // a factory class the webhook does not know
	HAOff         HAState = "off"         // none
	HAConflicting HAState = "conflicting" // the HA keys disagree between spellings, sources or the versions that may read them
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
	// Native marks a JobManager that runs Flink's native resource
	// manager, which makes its TaskManager pods: a FlinkDeployment in
	// native mode, the operator's default, or a native JobManager
	// workload. HostNetwork marks one of those on the host network, which
	// also updates its Service. Both are read from the JobManager's
	// object.
	Native, HostNetwork bool
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
	id, configs, ok := identify(obj, configMaps)
	if ok {
		id.read(configs)
	}
	return id, ok
}

// identify says what obj is and returns the configurations Flink reads
// for it, from which read fills in the rest.
func identify(obj metav1.Object, configMaps ConfigMaps) (Identity, []*cluster.Configuration, bool) {
	switch o := obj.(type) {
	case *corev1.ConfigMap:
		return configMapIdentity(o, cluster.ConfigMap(o, reading))
	case *appsv1.Deployment:
		return workloadIdentity("Deployment", &o.ObjectMeta, &o.Spec.Template, configMaps)
	case *appsv1.StatefulSet:
		return workloadIdentity("StatefulSet", &o.ObjectMeta, &o.Spec.Template, configMaps)
	case *batchv1.Job:
		return workloadIdentity("Job", &o.ObjectMeta, &o.Spec.Template, configMaps)
	case *unstructured.Unstructured:
		if o.GetKind() == "FlinkDeployment" {
			return flinkDeploymentIdentity(o, cluster.FlinkDeployment(o, reading))
		}
	}
	return Identity{}, nil, false
}

// reading is the policy the configurations are read under: fleet asks
// what a cluster is, not what the policy decides for it.
var reading = policy.Default()

// nativeConfigPrefix names the ConfigMap Flink's native client or the
// operator writes for a cluster: flink-config-<cluster-id>.
const nativeConfigPrefix = "flink-config-"

// nativeKey is the key of a cluster by its cluster-id: a FlinkDeployment,
// a native cluster, and what Flink or the operator makes for either. Its
// text is recorded on objects (handler.AnnotationCluster) and stays.
func nativeKey(namespace, clusterID string) string { return namespace + "/native/" + clusterID }

func configMapKey(namespace, name string) string { return namespace + "/ConfigMap/" + name }

func configMapIdentity(cm *corev1.ConfigMap, o *cluster.ConfigMapObject) (Identity, []*cluster.Configuration, bool) {
	if o.Role != cluster.ClusterConfig && o.Role != cluster.GeneratedConfig || len(o.Configs) == 0 {
		return Identity{}, nil, false // HA data, the operator's defaults, no cluster's or none readable
	}
	id := Identity{Object: "ConfigMap/" + cm.Name, Namespace: cm.Namespace, Mode: o.Mode, Versions: flinkconf.Supported}
	if o.Role == cluster.GeneratedConfig {
		id.ClusterID = strings.TrimPrefix(cm.Name, nativeConfigPrefix)
		id.Key = nativeKey(cm.Namespace, id.ClusterID)
	} else {
		id.Key = configMapKey(cm.Namespace, cm.Name)
	}
	// The ConfigMap pins no release line; the oldest that reads one of its
	// files is the oldest that may run it.
	id.Versions.Min = o.Configs[0].Versions.Min
	for _, c := range o.Configs[1:] {
		if c.Versions.Min.Less(id.Versions.Min) {
			id.Versions.Min = c.Versions.Min
		}
	}
	return id, o.Configs, true
}

func workloadIdentity(kind string, meta *metav1.ObjectMeta, tpl *corev1.PodTemplateSpec, configMaps ConfigMaps) (Identity, []*cluster.Configuration, bool) {
	w, ok := cluster.Workload(meta, tpl, reading)
	if !ok || w.Pod.Role != recognise.JobManager {
		return Identity{}, nil, false
	}
	id := Identity{Object: kind + "/" + meta.Name, Namespace: meta.Namespace, Mode: w.Mode,
		Versions: w.Versions, Account: tpl.Spec.ServiceAccountName, JobManager: true,
		Native: w.Pod.Native, HostNetwork: w.Pod.Native && tpl.Spec.HostNetwork}
	if id.Account == "" {
		id.Account = "default"
	}
	configs := w.Configs
	mounted := "" // the ConfigMap Flink reads as it is, if any
	if w.Pod.ConfigMounted {
		mounted = w.Pod.Mount.ConfigMap
	}
	if mounted != "" && configMaps != nil {
		if cm := configMaps(mounted); cm != nil {
			configs = w.Mounting(cluster.ConfigMap(cm, reading))
		}
	}
	// The key is the cluster's: a native one's, or one the operator made,
	// by its cluster-id label, else the ConfigMap mounted as its
	// configuration, else the object.
	cid := ""
	if id.Mode == Native || w.Pod.Operator {
		cid = meta.Labels["app"]
	}
	switch {
	case cid != "":
		id.ClusterID = cid
		id.Key = nativeKey(meta.Namespace, cid)
	case mounted != "":
		id.Key = configMapKey(meta.Namespace, mounted)
	default:
		id.Key = meta.Namespace + "/" + kind + "/" + meta.Name
	}
	return id, configs, true
}

func flinkDeploymentIdentity(u *unstructured.Unstructured, o *cluster.FlinkDeploymentObject) (Identity, []*cluster.Configuration, bool) {
	id := Identity{Key: nativeKey(u.GetNamespace(), u.GetName()), Object: "FlinkDeployment/" + u.GetName(), Namespace: u.GetNamespace(),
		ClusterID: o.ClusterID, Mode: o.Mode, Versions: o.Versions, JobManager: true,
		Native: o.RunsNative(), HostNetwork: o.RunsNative() && o.OnHostNetwork()}
	// The JobManager runs under its own key's account where
	// flinkConfiguration sets one, as Flink reads it before the account
	// the operator copies from spec.serviceAccount.
	jm, _ := o.RoleAccounts()
	id.Account = jm.Name
	return id, o.Configs, true
}

// haOptions are the options whose disagreement makes HA conflicting, each
// with its keys in the order Flink looks them up (Option.Keys, which
// allocates, so once here).
var haOptions = func() (out [4][]string) {
	for i, o := range []flinkconf.Option{flinkconf.ClusterID, flinkconf.HAStorageDir, flinkconf.HAClusterID, flinkconf.HAType} {
		out[i] = o.Keys()
	}
	return out
}()

// The options' places in haOptions.
const (
	optClusterID = iota
	optStorageDir
	optHAClusterID
)

// read fills in what the configurations Flink reads for the object say:
// the cluster-id (unless the object itself names it), the HA state, the
// storageDir and the HA storage path. Where release lines read different
// configurations (one file or the other, FLINK_PROPERTIES by the old rules
// or the new), the newest line's reading is what the cluster means to run,
// as for the rules' decision; readings that disagree on a value of the
// identity make HA conflicting, as disagreeing spellings or layers do.
//
// Package cluster already groups the release lines by how they read the
// object (one configuration per file and FLINK_PROPERTIES syntax, one HA
// reading per spelling), so each configuration is read once here, for
// whichever lines share it.
func (id *Identity) read(configs []*cluster.Configuration) {
	if len(configs) == 0 {
		id.HA = HAOff
		return
	}
	newest := configs[0]
	for _, other := range configs[1:] {
		if newest.Versions.Max.Less(other.Versions.Max) {
			newest = other
		}
	}
	v, conflict := readValues(newest)
	for _, other := range configs {
		if conflict {
			break
		}
		if other != newest {
			ov, c := readValues(other)
			conflict = c || ov != v
		}
	}
	if id.ClusterID == "" {
		id.ClusterID = v.clusterID
	}
	switch v.ha {
	case flinkconf.HAKubernetes:
		id.HA = HAOn
	case flinkconf.HAZooKeeper:
		id.HA = HAZooKeeper
	case flinkconf.HAFactory:
		id.HA = HACustom
	default:
		id.HA = HAOff
	}
	if conflict {
		id.HA = HAConflicting
	}
	id.StorageDir = v.storageDir
	if id.HA == HAOff || id.StorageDir == "" {
		return
	}
	haClusterID := "/default" // Flink's default: every standalone cluster without one shares it
	if id.Mode != Standalone && id.ClusterID != "" {
		haClusterID = id.ClusterID // Flink and the operator set it to the cluster-id in native mode
	}
	if v.haClusterIDSet {
		haClusterID = v.haClusterID
	}
	id.StoragePath = StoragePath(id.StorageDir, haClusterID)
}

// identityValues are what one configuration says of a cluster's identity.
type identityValues struct {
	clusterID, storageDir, haClusterID string
	haClusterIDSet                     bool
	ha                                 flinkconf.HAMode
}

// readValues returns what c says of the identity, as Config.Lookup reads
// each option, and whether two spellings or two layers of an HA option
// disagree in it. The keys are looked up in every layer, which also
// shows whether a disagreement is possible at all: only then is the
// configuration's full list of conflicts built. (Config.Conflicts
// reports spellings of one option that disagree, and a key whose value
// in a lower layer differs from the one Flink uses: neither without an
// option set in two spellings or a key set in two layers.)
func readValues(c *cluster.Configuration) (identityValues, bool) {
	v := identityValues{ha: c.HA.Newest().Mode}
	layers := c.Config.Layers
	ambiguous := false
	for o, keys := range haOptions {
		spellings := 0
		for _, k := range keys {
			defined := 0
			for i := len(layers) - 1; i >= 0; i-- {
				e, ok := layers[i].Source.Get(k)
				if !ok {
					continue
				}
				if defined++; defined == 1 && spellings == 0 {
					// The first key set, in its last layer: what Lookup returns.
					switch o {
					case optClusterID:
						v.clusterID = e.Value
					case optStorageDir:
						v.storageDir = e.Value
					case optHAClusterID:
						v.haClusterID, v.haClusterIDSet = e.Value, true
					}
				}
			}
			if defined > 0 {
				spellings++
			}
			ambiguous = ambiguous || defined > 1
		}
		ambiguous = ambiguous || spellings > 1
	}
	// A key set in one layer only and in one spelling only cannot
	// disagree with another.
	return v, ambiguous && conflicting(c.Config)
}

// conflicting reports whether two spellings or two layers of an HA option
// disagree.
func conflicting(cfg *flinkconf.Config) bool {
	for _, c := range cfg.Conflicts() {
		if c.Kind == flinkconf.ConflictSpellings || c.Kind == flinkconf.ConflictLayers {
			if slices.ContainsFunc(haOptions[:], func(keys []string) bool { return slices.Contains(keys, c.Settings[0].Key) }) {
				return true
			}
		}
	}
	return false
}

// StoragePath is where Flink keeps a cluster's HA data: the cluster-id
// under the storageDir, as Flink's Path joins them (a leading slash of the
// cluster-id does not make it absolute).
func StoragePath(storageDir, haClusterID string) string {
	return strings.TrimRight(storageDir, "/") + "/" + strings.TrimLeft(haClusterID, "/")
}

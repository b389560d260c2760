package flinkconf

import "strings"

// Option is a configuration option and the older keys Flink still reads for
// it, in the order Flink consults them after the current key.
type Option struct {
	Key        string
	Deprecated []string
}

// Keys returns the current key followed by the deprecated ones.
func (o Option) Keys() []string {
	return append([]string{o.Key}, o.Deprecated...)
}

// The options the high-availability rules read.
var (
	HAType = Option{Key: "high-availability.type", Deprecated: []string{"recovery.mode", "high-availability"}}
	// HAStorageDir is where the job graphs, checkpoint metadata and blobs of
	// an HA cluster live; the HA ConfigMaps only point into it.
	HAStorageDir = Option{Key: "high-availability.storageDir",
		Deprecated: []string{"high-availability.zookeeper.storageDir", "recovery.zookeeper.storageDir"}}
	// HAClusterID separates the clusters that share a storageDir.
	HAClusterID = Option{Key: "high-availability.cluster-id",
		Deprecated: []string{"high-availability.zookeeper.path.namespace", "recovery.zookeeper.path.namespace"}}
	ClusterID                 = Option{Key: "kubernetes.cluster-id"}
	Namespace                 = Option{Key: "kubernetes.namespace"}
	ServiceAccount            = Option{Key: "kubernetes.service-account"}
	JobManagerServiceAccount  = Option{Key: "kubernetes.jobmanager.service-account", Deprecated: []string{"kubernetes.service-account"}}
	TaskManagerServiceAccount = Option{Key: "kubernetes.taskmanager.service-account", Deprecated: []string{"kubernetes.service-account"}}
	JobManagerReplicas        = Option{Key: "kubernetes.jobmanager.replicas"}
	HAJobManagerPort          = Option{Key: "high-availability.jobmanager.port", Deprecated: []string{"recovery.jobmanager.port"}}
)

// spelledOptions are the options with more than one spelling, checked for
// disagreeing spellings.
var spelledOptions = []Option{HAType, HAStorageDir, HAClusterID, HAJobManagerPort}

// HAMode is the kind of high availability a configuration asks for.
type HAMode int

const (
	// HANone is no high availability: Flink's default.
	HANone HAMode = iota
	// HAZooKeeper is ZooKeeper-based high availability.
	HAZooKeeper
	// HAKubernetes is Kubernetes (ConfigMap) based high availability.
	HAKubernetes
	// HAFactory is a custom HighAvailabilityServicesFactory class.
	HAFactory
)

// KubernetesHAFactory is the factory class that is Kubernetes HA in every
// Flink version; configurations from before 1.16 name it instead of
// "kubernetes".
const KubernetesHAFactory = "org.apache.flink.kubernetes.highavailability.KubernetesHaServicesFactory"

// ParseHAMode interprets a value of high-availability.type (or its
// deprecated keys) the way Flink does.
func ParseHAMode(v string) HAMode {
	switch strings.ToUpper(strings.TrimSpace(v)) {
	case "", "NONE", "STANDALONE": // "standalone" was recovery.mode's default
		return HANone
	case "ZOOKEEPER":
		return HAZooKeeper
	case "KUBERNETES":
		return HAKubernetes
	}
	if strings.TrimSpace(v) == KubernetesHAFactory {
		return HAKubernetes
	}
	return HAFactory
}

func (m HAMode) String() string {
	switch m {
	case HANone:
		return "none"
	case HAZooKeeper:
		return "zookeeper"
	case HAKubernetes:
		return "kubernetes"
	default:
		return "factory class"
	}
}

package recognise

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
)

// FlinkDeploymentKind is the Flink Kubernetes Operator's cluster resource.
var FlinkDeploymentKind = schema.GroupKind{Group: "flink.apache.org", Kind: "FlinkDeployment"}

// FlinkDeploymentGVK is the version of FlinkDeployments the webhook reads.
var FlinkDeploymentGVK = FlinkDeploymentKind.WithVersion("v1beta1")

// operatorName is the chart name the operator's Helm chart labels its
// objects with (app.kubernetes.io/name).
const operatorName = "flink-kubernetes-operator"

// OperatorConfigMap reports whether cm is the Flink Kubernetes Operator's own
// configuration (its Helm chart's flink-operator-config): the defaults the
// operator reads, beside the operator's logging configuration, not a
// cluster's.
func OperatorConfigMap(cm *corev1.ConfigMap) bool {
	if cm.Name == "flink-operator-config" || cm.Labels["app.kubernetes.io/name"] == operatorName {
		return true
	}
	for _, k := range []string{"log4j-operator.properties", "logback-operator.xml"} {
		if _, ok := cm.Data[k]; ok {
			return true
		}
	}
	return false
}

// The values of Flink's "type" label: on the objects Flink's native client
// makes (and the operator in native mode, which uses it), and on those the
// operator makes for a FlinkDeployment in standalone mode
// (StandaloneKubernetesUtils).
const (
	TypeNative             = "flink-native-kubernetes"
	TypeOperatorStandalone = "flink-standalone-kubernetes"
)

// GeneratedConfigMap reports whether cm is the flink-config-<cid> ConfigMap
// that Flink's native client, or the operator in either mode, writes from
// the cluster's configuration and mounts into its pods, and whether the
// cluster is native.
func GeneratedConfigMap(cm *corev1.ConfigMap) (generated, native bool) {
	if !strings.HasPrefix(cm.Name, "flink-config-") {
		return false, false
	}
	switch cm.Labels["type"] {
	case TypeNative:
		return true, true
	case TypeOperatorStandalone:
		return true, false
	}
	return false, false
}

// notClusterPrefixes begin keys that configure no Flink cluster by
// themselves: the operator's own settings, filesystem credentials a
// launcher or client needs, and where a client finds a cluster.
var notClusterPrefixes = []string{
	"kubernetes.operator.", "job.autoscaler.",
	"fs.", "s3.", "s3a.", "s3p.", "presto.s3.", "gs.", "azure.", "oss.",
	"rest.address", "rest.port", "client.",
}

// ConfiguresCluster reports whether a Flink configuration file configures a
// cluster: an empty one does (it is a cluster's, waiting for its keys), one
// whose every key is the operator's, a filesystem's credentials or a
// client's does not.
func ConfiguresCluster(src flinkconf.Source) bool {
	entries := src.Entries()
	if len(entries) == 0 {
		return true
	}
	for _, e := range entries {
		if !hasAnyPrefix(e.Key, notClusterPrefixes) {
			return true
		}
	}
	return false
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

package recognise

import (
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
)

// The data keys Flink reads its configuration from, in the order their
// files apply: flink-conf.yaml wins where a Flink 1.19 or 1.20 image finds
// both.
const (
	KeyLegacy   = "flink-conf.yaml"
	KeyStandard = "config.yaml"
)

var (
	// <cid>-cluster-config-map (Flink 1.15+); <cid>-{resourcemanager,
	// dispatcher,restserver}-leader (Flink 1.12-1.14).
	haClusterName = regexp.MustCompile(`^(.+)-(cluster-config-map|resourcemanager-leader|dispatcher-leader|restserver-leader)$`)
	// <cid>-<jobId>-config-map (1.15+); <cid>-<jobId>-jobmanager-leader (1.12-1.14).
	haJobName = regexp.MustCompile(`^(.+)-[0-9a-f]{32}-(config-map|jobmanager-leader)$`)
)

// HAConfigMap reports whether a ConfigMap holds Flink HA data (leader
// election, job graphs, checkpoint pointers), and for which cluster-id. The
// name decides, as Flink names them in every version; the labels Flink adds
// are extra evidence, and the operator's autoscaler label rules one out.
func HAConfigMap(name string, labels map[string]string) (clusterID string, ok bool) {
	if labels["component"] == "autoscaler" {
		return "", false
	}
	for _, re := range []*regexp.Regexp{haJobName, haClusterName} {
		if m := re.FindStringSubmatch(name); m != nil && flinkconf.CheckClusterID(m[1]) == nil {
			return m[1], true
		}
	}
	if labels["configmap-type"] == "high-availability" && labels["type"] == TypeNative && labels["app"] != "" {
		return labels["app"], true // a name from a Flink version newer than these rules
	}
	return "", false
}

// ConfigKeys returns the data keys of a ConfigMap that hold Flink
// configuration: flink-conf.yaml always, config.yaml when the ConfigMap or
// the file itself is recognisably Flink's (config.yaml is a common name).
func ConfigKeys(cm *corev1.ConfigMap) []string {
	var keys []string
	if _, ok := cm.Data[KeyLegacy]; ok {
		keys = append(keys, KeyLegacy)
	}
	if text, ok := cm.Data[KeyStandard]; ok && (len(keys) > 0 || flinkConfigMap(cm) || looksLikeFlink(text)) {
		keys = append(keys, KeyStandard)
	}
	return keys
}

func flinkConfigMap(cm *corev1.ConfigMap) bool {
	if strings.HasPrefix(cm.Name, "flink-config") || cm.Labels["type"] == TypeNative {
		return true
	}
	for _, k := range []string{"log4j-console.properties", "logback-console.xml"} {
		if _, ok := cm.Data[k]; ok {
			return true
		}
	}
	return false
}

// flinkPrefixes begin keys that only Flink configuration has.
var flinkPrefixes = []string{
	"jobmanager", "taskmanager", "high-availability", "kubernetes.cluster-id", "state.backend",
	"state.checkpoints.", "execution.checkpointing.", "parallelism.default", "blob.server.", "restart-strategy",
}

// looksLikeFlink reports whether a config.yaml sets at least one key only
// Flink has; text that does not parse is not taken for Flink's.
func looksLikeFlink(text string) bool {
	if !flinkconf.MayHaveKeyWithPrefix(text, flinkPrefixes) {
		return false // most other products' files stop here, unparsed
	}
	s, err := flinkconf.ParseStandard([]byte(text))
	if err != nil {
		return false
	}
	for _, e := range s.Entries() {
		for _, p := range flinkPrefixes {
			if strings.HasPrefix(e.Key, p) {
				return true
			}
		}
	}
	return false
}

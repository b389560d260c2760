package recognise

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
)

func TestHAConfigMap(t *testing.T) {
	t.Parallel()
	const job = "8a4c9ad1f6c0e0b3d1b4e7e6a2f3c5d9"
	haLabels := map[string]string{"app": "orders", "type": "flink-native-kubernetes", "configmap-type": "high-availability"}
	cases := map[string]struct {
		name   string
		labels map[string]string
		cid    string
		ok     bool
	}{
		"1.15+ cluster ConfigMap":               {name: "orders-cluster-config-map", cid: "orders", ok: true},
		"1.15+ job ConfigMap":                   {name: "orders-" + job + "-config-map", cid: "orders", ok: true},
		"1.12 resource manager leader":          {name: "orders-resourcemanager-leader", cid: "orders", ok: true},
		"1.12 dispatcher leader":                {name: "orders-dispatcher-leader", cid: "orders", ok: true},
		"1.12 rest server leader":               {name: "orders-restserver-leader", cid: "orders", ok: true},
		"1.12 job manager leader":               {name: "orders-" + job + "-jobmanager-leader", cid: "orders", ok: true},
		"a cluster-id with dashes":              {name: "team-a-orders-cluster-config-map", cid: "team-a-orders", ok: true},
		"labels alone, for a future name":       {name: "orders-ha-state", labels: haLabels, cid: "orders", ok: true},
		"native configuration is not HA data":   {name: "flink-config-orders"},
		"the autoscaler's state is not HA data": {name: "autoscaler-orders"},
		"an autoscaler ConfigMap named like HA": {name: "autoscaler-x-cluster-config-map", labels: map[string]string{"component": "autoscaler"}},
		"pod templates are not HA data":         {name: "pod-template-orders"},
		"hadoop configuration is not HA data":   {name: "hadoop-config-orders"},
		"a job id of the wrong length":          {name: "orders-8a4c9ad1-config-map"},
		"an upper-case job id":                  {name: "orders-8A4C9AD1F6C0E0B3D1B4E7E6A2F3C5D9-config-map", cid: "", ok: false},
		"a cluster-id Flink cannot have":        {name: "my.app-cluster-config-map"},
		"an unrelated ConfigMap":                {name: "kube-root-ca.crt"},
	}
	for name, tc := range cases {
		cid, ok := HAConfigMap(tc.name, tc.labels)
		assert.Equal(t, tc.ok, ok, name)
		assert.Equal(t, tc.cid, cid, name)
	}
}

func TestConfigKeys(t *testing.T) {
	t.Parallel()
	cm := func(name string, data map[string]string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: data}
	}
	cases := map[string]struct {
		cm   *corev1.ConfigMap
		want []string
	}{
		"flink-conf.yaml is always Flink's":   {cm("anything", map[string]string{"flink-conf.yaml": "a: b"}), []string{"flink-conf.yaml"}},
		"both files":                          {cm("x", map[string]string{"flink-conf.yaml": "", "config.yaml": ""}), []string{"flink-conf.yaml", "config.yaml"}},
		"config.yaml in flink-config":         {cm("flink-config", map[string]string{"config.yaml": "a: b"}), []string{"config.yaml"}},
		"config.yaml beside log4j":            {cm("conf", map[string]string{"config.yaml": "a: b", "log4j-console.properties": ""}), []string{"config.yaml"}},
		"config.yaml with Flink keys":         {cm("conf", map[string]string{"config.yaml": "jobmanager:\n  rpc:\n    address: x\n"}), []string{"config.yaml"}},
		"somebody else's config.yaml":         {cm("app", map[string]string{"config.yaml": "server:\n  port: 8080\n"}), nil},
		"a config.yaml that is not even YAML": {cm("app", map[string]string{"config.yaml": "a: [\n"}), nil},
		"no configuration at all":             {cm("app", map[string]string{"x": "y"}), nil},
	}
	for name, tc := range cases {
		assert.Equal(t, tc.want, ConfigKeys(tc.cm), name)
	}
}

func TestWhatIsNotACluster(t *testing.T) {
	t.Parallel()
	cm := func(name string, labels, data map[string]string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Data: data}
	}
	// generated: made by Flink or the operator, native or not.
	generated := func(cm *corev1.ConfigMap, native bool) bool {
		g, n := GeneratedConfigMap(cm)
		return g && n == native
	}
	operator := map[string]bool{
		"the chart's name":                                   OperatorConfigMap(cm("flink-operator-config", nil, nil)),
		"the chart's label under another name":               OperatorConfigMap(cm("defaults", map[string]string{"app.kubernetes.io/name": "flink-kubernetes-operator"}, nil)),
		"the operator's logging beside the file":             OperatorConfigMap(cm("defaults", nil, map[string]string{"log4j-operator.properties": ""})),
		"the Flink docs' flink-config is not":                !OperatorConfigMap(cm("flink-config", map[string]string{"app": "flink"}, map[string]string{"log4j-console.properties": ""})),
		"native flink-config-<cid>":                          generated(cm("flink-config-orders", map[string]string{"type": "flink-native-kubernetes", "app": "orders"}, nil), true),
		"the operator's standalone flink-config-<cid>":       generated(cm("flink-config-orders", map[string]string{"type": "flink-standalone-kubernetes", "app": "orders"}, nil), false),
		"a user's flink-config-<name> is not generated":      !generated(cm("flink-config-orders", nil, nil), false),
		"the operator's label on another name is not enough": !generated(cm("orders-config", map[string]string{"type": "flink-standalone-kubernetes"}, nil), false),
	}
	for name, ok := range operator {
		assert.True(t, ok, name)
	}
	configures := map[string]struct {
		text string
		want bool
	}{
		"an empty file waits for a cluster's keys": {"", true},
		"a cluster's keys":                         {"taskmanager.numberOfTaskSlots: 2\n", true},
		"the operator's own settings":              {"kubernetes.operator.reconcile.interval: 15 s\n", false},
		"filesystem credentials for a launcher":    {"s3.access-key: a\nfs.s3a.secret.key: b\n", false},
		"where a client finds its cluster":         {"rest.address: jm\nrest.port: 8081\nclient.timeout: 60 s\n", false},
		"credentials beside a cluster's key":       {"s3.access-key: a\nparallelism.default: 2\n", true},
	}
	for name, tc := range configures {
		src, err := flinkconf.ParseLegacy([]byte(tc.text))
		require.NoError(t, err)
		assert.Equal(t, tc.want, ConfiguresCluster(src), name)
	}
}

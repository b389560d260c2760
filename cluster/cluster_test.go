package cluster

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
)

// reading is what the model says about one configuration.
type reading struct {
	Path     string
	Versions flinkconf.Range
	Nested   bool
	HAOn     bool
}

func readings(o *Object) []reading {
	var out []reading
	for _, c := range o.Configs {
		out = append(out, reading{c.Path.String(), c.Versions, c.Nested, c.HAOn()})
	}
	return out
}

func TestConfigMap(t *testing.T) {
	t.Parallel()
	cm := func(name string, labels map[string]string, data map[string]string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team", Labels: labels}, Data: data}
	}
	cases := map[string]struct {
		cm   *corev1.ConfigMap
		role ConfigMapRole
		want []reading
	}{
		"flink-conf.yaml is read by 1.15 to 1.20, flat": {cm: cm("c", nil, map[string]string{"flink-conf.yaml": "high-availability.type: kubernetes\n"}),
			role: ClusterConfig, want: []reading{{"data[flink-conf.yaml]", flinkconf.Range{Min: flinkconf.V1_15, Max: flinkconf.V1_20}, false, true}}},
		"config.yaml is read from 1.19, nested": {cm: cm("flink-config", nil, map[string]string{"config.yaml": "a: b\n"}),
			role: ClusterConfig, want: []reading{{"data[config.yaml]", flinkconf.Range{Min: flinkconf.V1_19, Max: flinkconf.V2_1}, true, false}}},
		"beside flink-conf.yaml, config.yaml is read by 2.x only": {cm: cm("c", nil, map[string]string{"flink-conf.yaml": "", "config.yaml": ""}),
			role: ClusterConfig, want: []reading{
				{"data[flink-conf.yaml]", flinkconf.Range{Min: flinkconf.V1_15, Max: flinkconf.V1_20}, false, false},
				{"data[config.yaml]", flinkconf.Range{Min: flinkconf.V2_0, Max: flinkconf.V2_1}, true, false}}},
		"HA data":                   {cm: cm("orders-cluster-config-map", nil, nil), role: HAData},
		"the operator's defaults":   {cm: cm("flink-operator-config", nil, map[string]string{"flink-conf.yaml": "parallelism.default: 1\n"}), role: OperatorConfig},
		"native configuration":      {cm: cm("flink-config-orders", map[string]string{"type": "flink-native-kubernetes"}, map[string]string{"config.yaml": ""}), role: NativeConfig},
		"a client's settings":       {cm: cm("client", nil, map[string]string{"flink-conf.yaml": "rest.address: jm\nrest.port: 8081\n"}), role: NoCluster},
		"somebody else's ConfigMap": {cm: cm("app", nil, map[string]string{"config.yaml": "server: {port: 80}\n"}), role: NotFlink},
	}
	for name, tc := range cases {
		o := ConfigMap(tc.cm, policy.Default())
		assert.Equal(t, tc.role, o.Role, name)
		assert.Equal(t, tc.want, readings(&o.Object), name)
	}
}

func TestWorkload(t *testing.T) {
	t.Parallel()
	tpl := func(image string, env string, args ...string) *corev1.PodTemplateSpec {
		c := corev1.Container{Name: "jobmanager", Image: image, Args: args}
		if env != "" {
			c.Env = []corev1.EnvVar{{Name: EnvProperties, Value: env}}
		}
		return &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"component": "jobmanager"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{c}}}
	}
	const env = "spec.template.spec.containers[0].env[FLINK_PROPERTIES]"
	cases := map[string]struct {
		tpl     *corev1.PodTemplateSpec
		from    string
		carried bool
		want    []reading
	}{
		"FLINK_PROPERTIES of a 1.18 image is read by the legacy rules": {tpl: tpl("flink:1.18", "high-availability.type:kubernetes\n", "jobmanager"),
			from: "image flink:1.18", carried: true, want: []reading{{env, flinkconf.Exactly(flinkconf.V1_18), false, false}}},
		"FLINK_PROPERTIES of a 1.19 image is read by the new rules, nested": {tpl: tpl("flink:1.19", "high-availability.type:kubernetes\n", "jobmanager"),
			from: "image flink:1.19", carried: true, want: []reading{{env, flinkconf.Exactly(flinkconf.V1_19), true, true}}},
		"FLINK_PROPERTIES of an unknown image is read by both": {tpl: tpl("example/job:1", "high-availability.type: kubernetes\n", "jobmanager"),
			carried: true, want: []reading{
				{env, flinkconf.Range{Min: flinkconf.V1_15, Max: flinkconf.V1_18}, false, true},
				{env, flinkconf.Range{Min: flinkconf.V1_19, Max: flinkconf.V2_1}, true, true}}},
		"FLINK_PROPERTIES of an image older than the supported lines is still read": {tpl: tpl("flink:1.14", "kubernetes.cluster-id: jm\n", "jobmanager"),
			from: "image flink:1.14", carried: true, want: []reading{{env, flinkconf.Exactly(flinkconf.Version{Major: 1, Minor: 14}), false, false}}},
		"the JobManager's own address is no configuration the container carries": {
			tpl: tpl("flink:2.1", "", "standalone-job", "-D", "jobmanager.rpc.address=$(POD_IP)"), from: "image flink:2.1"},
	}
	for name, tc := range cases {
		w, ok := Workload(&metav1.ObjectMeta{Name: "jm", Namespace: "team"}, tc.tpl, policy.Default())
		require.True(t, ok, name)
		assert.Equal(t, tc.from, w.VersionFrom, name)
		assert.Equal(t, tc.carried, w.Carried, name)
		assert.Equal(t, tc.want, readings(&w.Object), name)
	}
}

func TestFlinkDeployment(t *testing.T) {
	t.Parallel()
	fd := func(spec map[string]any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": "orders", "namespace": "team"}, "spec": spec}}
	}
	cases := map[string]struct {
		spec   map[string]any
		from   string
		nested bool
	}{
		"below v2_0 the operator writes flat flink-conf.yaml":  {spec: map[string]any{"flinkVersion": "v1_20"}, from: "spec.flinkVersion v1_20"},
		"from v2_0 nested config.yaml":                         {spec: map[string]any{"flinkVersion": "v2_0"}, from: "spec.flinkVersion v2_0", nested: true},
		"without flinkVersion the image tag tells":             {spec: map[string]any{"image": "flink:1.18"}, from: "spec.image flink:1.18"},
		"unknown: judged as nested, which every version takes": {spec: map[string]any{}, nested: true},
	}
	for name, tc := range cases {
		o := FlinkDeployment(fd(tc.spec), policy.Default())
		assert.Equal(t, tc.from, o.VersionFrom, name)
		require.Len(t, o.Configs, 1, name)
		assert.Equal(t, tc.nested, o.Configs[0].Nested, name)
		assert.Equal(t, !tc.nested, o.Conf.Legacy, name)
		assert.Equal(t, "orders", o.ClusterID, name)
	}
}

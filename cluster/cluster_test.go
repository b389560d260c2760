package cluster

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"

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
		"HA data":                 {cm: cm("orders-cluster-config-map", nil, nil), role: HAData},
		"the operator's defaults": {cm: cm("flink-operator-config", nil, map[string]string{"flink-conf.yaml": "parallelism.default: 1\n"}), role: OperatorConfig},
		"native configuration is read, never edited": {cm: cm("flink-config-orders", map[string]string{"type": "flink-native-kubernetes"}, map[string]string{"config.yaml": ""}),
			role: GeneratedConfig, want: []reading{{"data[config.yaml]", flinkconf.Range{Min: flinkconf.V1_19, Max: flinkconf.V2_1}, true, false}}},
		"a client's settings":       {cm: cm("client", nil, map[string]string{"flink-conf.yaml": "rest.address: jm\nrest.port: 8081\n"}), role: NoCluster},
		"somebody else's ConfigMap": {cm: cm("app", nil, map[string]string{"config.yaml": "server: {port: 80}\n"}), role: NotFlink},
	}
	for name, tc := range cases {
		o := ConfigMap(tc.cm, policy.Default())
		assert.Equal(t, tc.role, o.Role, name)
		assert.Equal(t, tc.want, readings(&o.Object), name)
		for _, c := range o.Configs {
			assert.Equal(t, tc.role == ClusterConfig, c.Edit != nil, name+": editable")
			assert.Equal(t, tc.role == ClusterConfig, c.Standalone, name+": names its own HA cluster-id")
		}
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
		"-D arguments after an option only 1.x knows are read by 1.x alone; the lines that stop first come first": {
			tpl:     tpl("example/job:1", "", "jobmanager", "-D", "parallelism.default=2", "--webui-port", "8081", "-Dhigh-availability.type=kubernetes"),
			carried: true, want: []reading{
				{"spec.template.spec.containers[0].args", flinkconf.Range{Min: flinkconf.V2_0, Max: flinkconf.V2_1}, false, false},
				{"spec.template.spec.containers[0].args", flinkconf.Range{Min: flinkconf.V1_15, Max: flinkconf.V1_20}, false, true}}},
		"every part of the lines keeps the environment's rules": {
			tpl:     tpl("example/job:1", "kubernetes.cluster-id: jm\n", "standalone-job", "--jars", "a.jar", "-Dhigh-availability.type=kubernetes"),
			carried: true, want: []reading{
				{env, flinkconf.Range{Min: flinkconf.V1_15, Max: flinkconf.V1_18}, false, false},
				{env, flinkconf.Range{Min: flinkconf.V1_19, Max: flinkconf.V2_1}, true, true}}},
		"the lines split where they stop apart, though each counts the same -D": {
			tpl:     tpl("example/job:1", "", "jobmanager", "-D", "parallelism.default=2", "--webui-port", "8081"),
			carried: true, want: []reading{
				{"spec.template.spec.containers[0].args", flinkconf.Range{Min: flinkconf.V2_0, Max: flinkconf.V2_1}, false, false},
				{"spec.template.spec.containers[0].args", flinkconf.Range{Min: flinkconf.V1_15, Max: flinkconf.V1_20}, false, false}}},
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

// TestPropertiesOverAMount: the image's entrypoint writes FLINK_PROPERTIES
// into the configuration file in the conf directory; where that file is a
// read-only mount, the write fails and Flink never applies it, while -D
// arguments still do. A writable mount changes nothing.
func TestPropertiesOverAMount(t *testing.T) {
	t.Parallel()
	const (
		env  = "spec.template.spec.containers[0].env[FLINK_PROPERTIES]"
		args = "spec.template.spec.containers[0].args"
	)
	configMap := corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "flink-config"}}}
	emptyDir := corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
	dir := corev1.VolumeMount{Name: "conf", MountPath: "/opt/flink/conf"}
	file := func(name string) corev1.VolumeMount {
		return corev1.VolumeMount{Name: "conf", MountPath: "/opt/flink/conf/" + name, SubPath: name}
	}
	readOnly := dir
	readOnly.ReadOnly = true
	all := flinkconf.Range{Min: flinkconf.V1_15, Max: flinkconf.V2_1}
	newLines := flinkconf.Range{Min: flinkconf.V1_19, Max: flinkconf.V2_1}
	cases := map[string]struct {
		image   string
		env     string
		args    []string
		mount   *corev1.VolumeMount
		source  corev1.VolumeSource
		carried bool
		ignored *Ignored
		want    []reading
	}{
		"without a mount FLINK_PROPERTIES is the container's configuration": {
			image: "flink:1.20", env: "kubernetes.cluster-id: jm\n", carried: true,
			want: []reading{{env, flinkconf.Exactly(flinkconf.V1_20), true, false}}},
		"over an emptyDir at the conf directory FLINK_PROPERTIES applies as without a mount": {
			image: "flink:1.18", env: "kubernetes.cluster-id: jm\n", mount: &dir, source: emptyDir, carried: true,
			want: []reading{{env, flinkconf.Exactly(flinkconf.V1_18), false, false}}},
		"over a ConfigMap at the conf directory every line ignores FLINK_PROPERTIES": {
			image: "example/job:1", env: "kubernetes.cluster-id: jm\n", mount: &dir, source: configMap,
			ignored: &Ignored{Versions: all}},
		"over a ConfigMap at the conf directory the -D arguments still apply": {
			image: "flink:2.1", env: "kubernetes.cluster-id: jm\n", args: []string{"-D", "high-availability.type=kubernetes"}, mount: &dir, source: configMap,
			ignored: &Ignored{Versions: flinkconf.Exactly(flinkconf.V2_1)},
			want:    []reading{{args, flinkconf.Exactly(flinkconf.V2_1), false, true}}},
		"over an emptyDir mounted readOnly FLINK_PROPERTIES is ignored": {
			image: "flink:1.17", env: "kubernetes.cluster-id: jm\n", mount: &readOnly, source: emptyDir,
			ignored: &Ignored{Versions: flinkconf.Exactly(flinkconf.V1_17)}},
		"over flink-conf.yaml mounted alone every line ignores FLINK_PROPERTIES": {
			image: "example/job:1", env: "kubernetes.cluster-id: jm\n", mount: ptr(file("flink-conf.yaml")), source: configMap,
			ignored: &Ignored{Versions: all}},
		"over config.yaml mounted alone 1.19 on ignore FLINK_PROPERTIES, up to 1.18 write their own flink-conf.yaml": {
			image: "example/job:1", env: "kubernetes.cluster-id: jm\n", args: []string{"-D", "high-availability.type=kubernetes"},
			mount: ptr(file("config.yaml")), source: configMap,
			ignored: &Ignored{Versions: newLines},
			want: []reading{
				{env, flinkconf.Range{Min: flinkconf.V1_15, Max: flinkconf.V1_18}, false, true},
				{args, newLines, false, true}}},
		"a 1.18 image with config.yaml mounted alone carries its configuration": {
			image: "flink:1.18", env: "kubernetes.cluster-id: jm\n", mount: ptr(file("config.yaml")), source: configMap, carried: true,
			want: []reading{{env, flinkconf.Exactly(flinkconf.V1_18), false, false}}},
		"an empty FLINK_PROPERTIES over a mount is nothing to warn about": {
			image: "flink:1.20", mount: &dir, source: configMap},
		"a FLINK_PROPERTIES Flink never reads is not read: no error for it": {
			image: "flink:1.20", env: "kubernetes.cluster-id: jm\x00\n", mount: &dir, source: configMap,
			ignored: &Ignored{Versions: flinkconf.Exactly(flinkconf.V1_20)}},
	}
	for name, tc := range cases {
		c := corev1.Container{Name: "jobmanager", Image: tc.image, Args: append([]string{"jobmanager"}, tc.args...),
			Env: []corev1.EnvVar{{Name: EnvProperties, Value: tc.env}}}
		tpl := &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"component": "jobmanager"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{c}}}
		if tc.mount != nil {
			tpl.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{*tc.mount}
			tpl.Spec.Volumes = []corev1.Volume{{Name: "conf", VolumeSource: tc.source}}
		}
		w, ok := Workload(&metav1.ObjectMeta{Name: "jm", Namespace: "team"}, tpl, policy.Default())
		require.True(t, ok, name)
		if tc.ignored != nil {
			tc.ignored.Path = field.NewPath("spec", "template", "spec", "containers").Index(0).Child("env").Key(EnvProperties)
		}
		assert.Equal(t, tc.carried, w.Carried, name)
		assert.Equal(t, tc.ignored, w.Ignored, name)
		assert.Nil(t, w.Unreadable, name)
		assert.Equal(t, tc.want, readings(&w.Object), name)
	}
}

func ptr[T any](v T) *T { return &v }

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

// TestWhereWorkloadEditsGo: the HA keys are written where the user put
// the configuration, and each setting is named by the field that holds it.
func TestWhereWorkloadEditsGo(t *testing.T) {
	t.Parallel()
	const (
		env  = "spec.template.spec.containers[0].env[FLINK_PROPERTIES]"
		args = "spec.template.spec.containers[0].args"
	)
	cases := map[string]struct {
		env    string
		args   []string
		edit   string // the field edited; "" for none
		nested bool   // Object.Nested
		at     map[string]string
	}{
		"FLINK_PROPERTIES, where the arguments set no HA key": {
			env: "kubernetes.cluster-id: jm\n", args: []string{"jobmanager", "-D", "parallelism.default=2"}, edit: env,
			at: map[string]string{"kubernetes.cluster-id": env + "[kubernetes.cluster-id]", "parallelism.default": args + "[parallelism.default]"},
		},
		"-D arguments that set an HA key win over FLINK_PROPERTIES": {
			env: "kubernetes.cluster-id: jm\n", args: []string{"jobmanager", "-D", "high-availability.storageDir=s3://b/ha"}, edit: args,
			at: map[string]string{"kubernetes.cluster-id": env + "[kubernetes.cluster-id]", "high-availability.storageDir": args + "[high-availability.storageDir]"},
		},
		"the old recovery spelling in the arguments is an HA key too": {
			env: "kubernetes.cluster-id: jm\n", args: []string{"jobmanager", "-D", "recovery.mode=zookeeper"}, edit: args,
			at: map[string]string{"recovery.mode": args + "[recovery.mode]"},
		},
		"-D arguments alone": {
			args: []string{"jobmanager", "-D", "kubernetes.cluster-id=jm"}, edit: args,
			at: map[string]string{"kubernetes.cluster-id": args + "[kubernetes.cluster-id]"},
		},
		"nothing the container carries: nothing to edit": {args: []string{"jobmanager"}},
	}
	for name, tc := range cases {
		c := corev1.Container{Name: "jobmanager", Image: "flink:1.18", Args: tc.args}
		if tc.env != "" {
			c.Env = []corev1.EnvVar{{Name: EnvProperties, Value: tc.env}}
		}
		tpl := &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"component": "jobmanager"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{c}}}
		w, ok := Workload(&metav1.ObjectMeta{Name: "jm", Namespace: "team"}, tpl, policy.Default())
		require.True(t, ok, name)
		assert.Equal(t, tc.nested, w.Nested(), name)
		if tc.edit == "" {
			assert.Empty(t, w.Configs, name)
			continue
		}
		require.Len(t, w.Configs, 1, name)
		cfg := w.Configs[0]
		assert.Equal(t, tc.edit, cfg.EditPath.String(), name)
		for key, want := range tc.at {
			s, ok := cfg.Config.Get(key)
			require.True(t, ok, name+": "+key)
			assert.Equal(t, want, cfg.At(s).String(), name+": "+key)
		}
		assert.Equal(t, cfg.Path.String()+"[other]", cfg.At(flinkconf.Setting{Entry: flinkconf.Entry{Key: "other"}, Layer: "elsewhere"}).String(),
			name+": a setting of no layer is named under the configuration's field")
	}
}

// TestObjectNested: one configuration some release line reads nested makes
// the object's edits nested.
func TestObjectNested(t *testing.T) {
	t.Parallel()
	tpl := &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"component": "jobmanager"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "jobmanager", Image: "example/job:1", Args: []string{"jobmanager"},
			Env: []corev1.EnvVar{{Name: EnvProperties, Value: "kubernetes.cluster-id: jm\n"}}}}}}
	w, ok := Workload(&metav1.ObjectMeta{Name: "jm", Namespace: "team"}, tpl, policy.Default())
	require.True(t, ok)
	assert.True(t, w.Nested(), "an image of unknown version may be 1.19+, which reads FLINK_PROPERTIES nested")
	assert.Equal(t, []bool{false, true}, []bool{w.Configs[0].Nested, w.Configs[1].Nested})
}

func TestHostArg(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		args []string
		want int
	}{
		"--host and its value":              {[]string{"standalone-job", "--host", "$(POD_IP)", "--job-classname", "a.B"}, 1},
		"--host= in one argument":           {[]string{"standalone-job", "--job-classname", "a.B", "--host=$(POD_IP)"}, 3},
		"the short -h":                      {[]string{"standalone-job", "-h", "$(POD_IP)"}, 1},
		"none":                              {[]string{"standalone-job", "--job-classname", "a.B"}, -1},
		"an option that starts like --host": {[]string{"standalone-job", "--hostname", "x"}, -1},
		"no arguments":                      {nil, -1},
		"a --host among the program's own arguments": {[]string{"standalone-job", "--job-classname", "a.B", "--input", "x", "--host", "db"}, -1},
	}
	for name, tc := range cases {
		assert.Equal(t, tc.want, HostArg(flinkconf.ParseArgs(tc.args, flinkconf.Supported)), name)
	}
}

// TestWhatCannotBeRead: a configuration that cannot be read gives no
// configuration to edit, says where and why, and the object is still
// decided, so that a forbidden opt-out is reported beside it.
func TestWhatCannotBeRead(t *testing.T) {
	t.Parallel()
	strict := policy.Default()
	no := false
	strict.AllowOptOut = &no
	off := map[string]string{policy.AnnotationHA: "off"}

	fd := func(spec map[string]any) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": "orders", "namespace": "team"}}}
		if spec != nil {
			u.Object["spec"] = spec
		}
		u.SetAnnotations(off)
		return u
	}
	cases := map[string]struct {
		obj         *FlinkDeploymentObject
		noSpec      bool
		notAnObject bool
		err         string
	}{
		"no spec":                               {obj: FlinkDeployment(fd(nil), strict), noSpec: true},
		"a flinkConfiguration that is a string": {obj: FlinkDeployment(fd(map[string]any{"flinkConfiguration": "a: b"}), strict), notAnObject: true},
		"a flinkConfiguration nested too deep": {obj: FlinkDeployment(fd(map[string]any{"flinkConfiguration": deep(65)}), strict),
			err: "flinkConfiguration nests deeper than 64 levels"},
	}
	for name, tc := range cases {
		assert.Equal(t, tc.noSpec, tc.obj.Spec == nil, name)
		assert.Equal(t, tc.notAnObject, tc.obj.NotAnObject, name)
		if tc.err == "" {
			assert.NoError(t, tc.obj.ConfErr, name)
		} else {
			assert.EqualError(t, tc.obj.ConfErr, tc.err, name)
		}
		assert.Empty(t, tc.obj.Configs, name)
		assert.Equal(t, policy.ErrOptOutForbidden, tc.obj.OptOut, name)
	}

	cm := ConfigMap(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "flink-config", Namespace: "team", Annotations: off},
		Data: map[string]string{"config.yaml": "a: [\n", "flink-conf.yaml": "kubernetes.cluster-id: orders\n"}}, strict)
	assert.Equal(t, ClusterConfig, cm.Role, "an unreadable file makes a cluster's ConfigMap")
	require.Len(t, cm.Unreadable, 1)
	assert.Equal(t, "data[config.yaml]", cm.Unreadable[0].Path.String())
	assert.EqualError(t, cm.Unreadable[0].Err, "line 1: invalid YAML: did not find expected node content")
	assert.Equal(t, []reading{{"data[flink-conf.yaml]", flinkconf.Range{Min: flinkconf.V1_15, Max: flinkconf.V1_20}, false, false}}, readings(&cm.Object),
		"the readable file is still read")
	assert.Equal(t, policy.ErrOptOutForbidden, cm.OptOut)

	tpl := &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"component": "jobmanager"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "jobmanager", Image: "flink:1.20", Args: []string{"jobmanager"},
			Env: []corev1.EnvVar{{Name: EnvProperties, Value: "a: \xff\n"}}}}}}
	w, ok := Workload(&metav1.ObjectMeta{Name: "jm", Namespace: "team", Annotations: off}, tpl, strict)
	require.True(t, ok)
	require.NotNil(t, w.Unreadable)
	assert.Equal(t, "spec.template.spec.containers[0].env[FLINK_PROPERTIES]", w.Unreadable.Path.String())
	assert.Empty(t, w.Configs, "nothing to edit in text that cannot be read")
	assert.False(t, w.Carried)
	assert.Equal(t, policy.ErrOptOutForbidden, w.OptOut)
}

// deep is a flinkConfiguration nested n levels deep.
func deep(n int) map[string]any {
	m := map[string]any{"type": "kubernetes"}
	for range n {
		m = map[string]any{"a": m}
	}
	return m
}

// TestMounting: a JobManager that mounts a configuration ConfigMap reads
// each of its files under what the container sets (its -D arguments: the
// entrypoint cannot write FLINK_PROPERTIES into the read-only mount), for
// the release lines that read both; those readings are never edited. A file
// mounted alone by subPath is the one file read, by the lines that read it
// under the name it is mounted as.
func TestMounting(t *testing.T) {
	t.Parallel()
	const (
		env  = "spec.template.spec.containers[0].env[FLINK_PROPERTIES]"
		args = "spec.template.spec.containers[0].args"
	)
	legacy, standard := "data[flink-conf.yaml]", "data[config.yaml]"
	type mounted struct {
		reading
		Layers []string
	}
	cases := map[string]struct {
		image   string
		env     string
		args    []string
		subPath string // the file mounted alone; the whole directory when empty
		data    map[string]string
		want    []mounted
	}{
		"the file alone, for the lines that read it": {
			image: "example/job:1", args: []string{"jobmanager"}, data: map[string]string{"flink-conf.yaml": "high-availability.type: kubernetes\n"},
			want: []mounted{{reading{legacy, flinkconf.Range{Min: flinkconf.V1_15, Max: flinkconf.V1_20}, false, true}, []string{legacy}}},
		},
		"-D arguments over the file": {
			image: "flink:1.18", args: []string{"jobmanager", "-D", "high-availability.type=none"}, data: map[string]string{"flink-conf.yaml": "high-availability.type: kubernetes\n"},
			want: []mounted{{reading{legacy, flinkconf.Exactly(flinkconf.V1_18), false, false}, []string{legacy, args}}},
		},
		"each file as it is, FLINK_PROPERTIES ignored by every line": {
			image: "example/job:1", env: "kubernetes.cluster-id: jm\nhigh-availability.type: none\n", args: []string{"jobmanager"},
			data: map[string]string{"flink-conf.yaml": "high-availability.type: kubernetes\n", "config.yaml": "high-availability.type: kubernetes\n"},
			want: []mounted{
				{reading{legacy, flinkconf.Range{Min: flinkconf.V1_15, Max: flinkconf.V1_20}, false, true}, []string{legacy}},
				{reading{standard, flinkconf.Range{Min: flinkconf.V2_0, Max: flinkconf.V2_1}, true, true}, []string{standard}},
			},
		},
		"each file under the -D arguments, FLINK_PROPERTIES ignored": {
			image: "example/job:1", env: "high-availability.type: none\n", args: []string{"jobmanager", "-D", "kubernetes.cluster-id=jm"},
			data: map[string]string{"flink-conf.yaml": "high-availability.type: kubernetes\n", "config.yaml": "high-availability.type: kubernetes\n"},
			want: []mounted{
				{reading{legacy, flinkconf.Range{Min: flinkconf.V1_15, Max: flinkconf.V1_20}, false, true}, []string{legacy, args}},
				{reading{standard, flinkconf.Range{Min: flinkconf.V2_0, Max: flinkconf.V2_1}, true, true}, []string{standard, args}},
			},
		},
		"flink-conf.yaml mounted alone is read by 1.15-1.20, whatever else the ConfigMap holds": {
			image: "example/job:1", env: "high-availability.type: none\n", args: []string{"jobmanager", "-D", "kubernetes.cluster-id=jm"},
			subPath: "flink-conf.yaml",
			data:    map[string]string{"flink-conf.yaml": "high-availability.type: kubernetes\n", "config.yaml": "high-availability.type: none\n"},
			want: []mounted{
				{reading{legacy, flinkconf.Range{Min: flinkconf.V1_15, Max: flinkconf.V1_20}, false, true}, []string{legacy, args}},
			},
		},
		"config.yaml mounted alone is read from 1.19, even beside flink-conf.yaml in the ConfigMap": {
			image: "flink:1.19", env: "high-availability.type: none\n", args: []string{"jobmanager"},
			subPath: "config.yaml",
			data:    map[string]string{"flink-conf.yaml": "high-availability.type: none\n", "config.yaml": "high-availability.type: kubernetes\n"},
			want: []mounted{
				{reading{standard, flinkconf.Exactly(flinkconf.V1_19), true, true}, []string{standard}},
			},
		},
		"config.yaml mounted alone in a 1.18 image: it reads its own flink-conf.yaml and FLINK_PROPERTIES": {
			image: "flink:1.18", env: "kubernetes.cluster-id: jm\n", args: []string{"jobmanager"},
			subPath: "config.yaml",
			data:    map[string]string{"config.yaml": "high-availability.type: kubernetes\n"},
			want:    []mounted{{reading{env, flinkconf.Exactly(flinkconf.V1_18), false, false}, []string{env}}},
		},
		"an image older than the supported lines reads flink-conf.yaml as 1.15 does": {
			image: "flink:1.14", args: []string{"jobmanager"}, data: map[string]string{"flink-conf.yaml": "high-availability: zookeeper\n"},
			want: []mounted{{reading{legacy, flinkconf.Exactly(flinkconf.Version{Major: 1, Minor: 14}), false, false}, []string{legacy}}},
		},
		"Flink 2 reads no flink-conf.yaml: only what the container sets": {
			image: "flink:2.1", args: []string{"jobmanager", "-D", "kubernetes.cluster-id=jm"}, data: map[string]string{"flink-conf.yaml": "high-availability.type: kubernetes\n"},
			want: []mounted{{reading{args, flinkconf.Exactly(flinkconf.V2_1), false, false}, []string{args}}},
		},
		"a ConfigMap of no cluster: only what the container sets": {
			image: "flink:1.20", env: "kubernetes.cluster-id: jm\n", args: []string{"jobmanager", "-D", "high-availability.type=kubernetes"},
			data: map[string]string{"flink-conf.yaml": "rest.port: 8081\n"},
			want: []mounted{{reading{args, flinkconf.Exactly(flinkconf.V1_20), false, true}, []string{args}}},
		},
	}
	for name, tc := range cases {
		mount := corev1.VolumeMount{Name: "conf", MountPath: "/opt/flink/conf"}
		if tc.subPath != "" {
			mount.MountPath, mount.SubPath = mount.MountPath+"/"+tc.subPath, tc.subPath
		}
		c := corev1.Container{Name: "jobmanager", Image: tc.image, Args: tc.args, VolumeMounts: []corev1.VolumeMount{mount}}
		if tc.env != "" {
			c.Env = []corev1.EnvVar{{Name: EnvProperties, Value: tc.env}}
		}
		tpl := &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"component": "jobmanager"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{c}, Volumes: []corev1.Volume{{Name: "conf", VolumeSource: corev1.VolumeSource{
				ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "flink-config"}}}}}}}
		w, ok := Workload(&metav1.ObjectMeta{Name: "jm", Namespace: "team"}, tpl, policy.Default())
		require.True(t, ok, name)
		cm := ConfigMap(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "flink-config", Namespace: "team"}, Data: tc.data}, policy.Default())
		var got []mounted
		for _, m := range w.Mounting(cm) {
			var layers []string
			for _, l := range m.Config.Layers {
				layers = append(layers, l.Name)
			}
			got = append(got, mounted{reading{m.Path.String(), m.Versions, m.Nested, m.HAOn()}, layers})
			if m.Overrides || w.Carried {
				continue // the container's own, edited where it is written
			}
			assert.Nil(t, m.Edit, name+": a mounted reading is never edited")
		}
		assert.Equal(t, tc.want, got, name)
	}
}

// TestFieldPathsAreTheObjects: the paths built once for the common shapes
// are those of the object at hand, whichever container runs Flink and
// whichever file a ConfigMap holds.
func TestFieldPathsAreTheObjects(t *testing.T) {
	t.Parallel()
	for _, i := range []int{0, 1, len(knownContainers) - 1, len(knownContainers), 12} {
		containers := make([]corev1.Container, i+1)
		for j := range containers {
			containers[j] = corev1.Container{Name: fmt.Sprintf("sidecar-%d", j), Image: "example/sidecar:1"}
		}
		containers[i] = corev1.Container{Name: "jobmanager", Image: "flink:1.18", Args: []string{"jobmanager", "-D", "kubernetes.cluster-id=jm"},
			Env: []corev1.EnvVar{{Name: EnvProperties, Value: "high-availability.type: kubernetes\n"}}}
		tpl := &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"component": "jobmanager"}},
			Spec: corev1.PodSpec{Containers: containers}}
		w, ok := Workload(&metav1.ObjectMeta{Name: "jm", Namespace: "team"}, tpl, policy.Default())
		require.True(t, ok)
		container := fmt.Sprintf("spec.template.spec.containers[%d]", i)
		assert.Equal(t, container, w.ContainerPath.String())
		require.Len(t, w.Configs, 1)
		c := w.Configs[0]
		assert.Equal(t, container+".env[FLINK_PROPERTIES]", c.Path.String())
		for key, want := range map[string]string{
			"high-availability.type": container + ".env[FLINK_PROPERTIES][high-availability.type]",
			"kubernetes.cluster-id":  container + ".args[kubernetes.cluster-id]",
		} {
			s, ok := c.Config.Get(key)
			require.True(t, ok, key)
			assert.Equal(t, want, c.At(s).String(), key)
			assert.Equal(t, want, field.NewPath(s.Layer).Key(key).String(), key+": the layer is named by its field")
		}
	}
	for _, key := range []string{"flink-conf.yaml", "config.yaml", "other.yaml"} {
		p := dataPathOf(key)
		assert.Equal(t, "data["+key+"]", p.path.String())
		assert.Equal(t, "data["+key+"]", p.name)
	}
}

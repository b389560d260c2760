package mutate_test

import (
	"maps"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/flink-ha-webhook/flink-ha-webhook/mutate"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
)

const (
	factory   = "org.apache.flink.kubernetes.highavailability.KubernetesHaServicesFactory"
	container = "spec.template.spec.containers[0]"
	podIPEnv  = container + ".env: added POD_IP from status.podIP for the JobManager's HA address"
	envProps  = container + ".env[FLINK_PROPERTIES]"
)

func jobManager(image string, args []string, env []corev1.EnvVar, mounted bool) (*metav1.ObjectMeta, *corev1.PodTemplateSpec) {
	c := corev1.Container{Name: "jobmanager", Image: image, Args: args, Env: env}
	tpl := &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"component": "jobmanager"}},
		Spec:       corev1.PodSpec{ServiceAccountName: "flink", Containers: []corev1.Container{c}},
	}
	if mounted {
		tpl.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "conf", MountPath: "/opt/flink/conf"}}
		tpl.Spec.Volumes = []corev1.Volume{{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "flink-config"}}}}}
	}
	return &metav1.ObjectMeta{Name: "jm", Namespace: "team"}, tpl
}

func props(text string) []corev1.EnvVar {
	return []corev1.EnvVar{{Name: "FLINK_PROPERTIES", Value: text}}
}

func TestWorkload(t *testing.T) {
	t.Parallel()
	type workloadCase struct {
		image   string
		args    []string
		env     []corev1.EnvVar
		mounted bool
		// conf is a volume at the conf directory, or a file in it by
		// subPath, instead of the ConfigMap of mounted.
		conf     *corev1.VolumeMount
		volume   corev1.VolumeSource
		wantArgs []string
		wantEnv  string // FLINK_PROPERTIES afterwards, when there is one
		want     []string
	}
	cases := map[string]workloadCase{
		"flink 2.1 application cluster keeps its job class": {
			image: "flink:2.1", mounted: true,
			args:     []string{"standalone-job", "--job-classname", "org.example.Job", "--output", "s3://out"},
			wantArgs: []string{"standalone-job", "-D", "jobmanager.rpc.address=$(POD_IP)", "--job-classname", "org.example.Job", "--output", "s3://out"},
			want:     []string{podIPEnv, container + ".args: added -D jobmanager.rpc.address=$(POD_IP): HA advertises the pod IP"},
		},
		"flink 1.20 application cluster keeps the --host of the Flink docs": {
			image: "flink:1.20", mounted: true,
			args:     []string{"standalone-job", "--host", "$(POD_IP)", "--job-classname", "org.example.Job"},
			wantArgs: []string{"standalone-job", "--host", "$(POD_IP)", "--job-classname", "org.example.Job"},
			want:     []string{podIPEnv},
		},
		"a flink 2.1 session JobManager advertises its pod IP with -D": {
			image: "flink:2.1", mounted: true, args: []string{"jobmanager"},
			wantArgs: []string{"jobmanager", "-D", "jobmanager.rpc.address=$(POD_IP)"},
			want:     []string{podIPEnv, container + ".args: added -D jobmanager.rpc.address=$(POD_IP): HA advertises the pod IP"},
		},
		"a session JobManager that gives the docs' positional $(POD_IP) keeps it": {
			image: "flink:1.20", mounted: true, args: []string{"jobmanager", "$(POD_IP)"},
			wantArgs: []string{"jobmanager", "$(POD_IP)"},
			want:     []string{podIPEnv},
		},
		"a JobManager that advertises its pod IP through -D is left so": {
			image: "flink:2.1", mounted: true, args: []string{"jobmanager", "-D", "jobmanager.rpc.address=$(POD_IP)"},
			wantArgs: []string{"jobmanager", "-D", "jobmanager.rpc.address=$(POD_IP)"},
			want:     []string{podIPEnv},
		},
		"the pod IP goes before a standalone-job's program arguments, and a -D among them is not read": {
			image: "flink:2.1", mounted: true,
			args:     []string{"standalone-job", "--job-classname", "com.example.Job", "--input", "s3://in", "-Djobmanager.rpc.address=flink-jm"},
			wantArgs: []string{"standalone-job", "-D", "jobmanager.rpc.address=$(POD_IP)", "--job-classname", "com.example.Job", "--input", "s3://in", "-Djobmanager.rpc.address=flink-jm"},
			want:     []string{podIPEnv, container + ".args: added -D jobmanager.rpc.address=$(POD_IP): HA advertises the pod IP"},
		},
		"a --host among the program's arguments is not the JobManager's: the pod IP is added": {
			image: "flink:1.20", mounted: true,
			args:     []string{"standalone-job", "--job-classname", "com.example.Job", "--input", "s3://in", "--host", "db.example"},
			wantArgs: []string{"standalone-job", "-D", "jobmanager.rpc.address=$(POD_IP)", "--job-classname", "com.example.Job", "--input", "s3://in", "--host", "db.example"},
			want:     []string{podIPEnv, container + ".args: added -D jobmanager.rpc.address=$(POD_IP): HA advertises the pod IP"},
		},
		"a joined -D that jobmanager.sh took for a host name is an option behind the added -D": {
			image: "flink:1.20", mounted: true, args: []string{"jobmanager", "-Dparallelism.default=2"},
			wantArgs: []string{"jobmanager", "-D", "jobmanager.rpc.address=$(POD_IP)", "-Dparallelism.default=2"},
			want: []string{podIPEnv, container + ".args: added -D jobmanager.rpc.address=$(POD_IP): HA advertises the pod IP",
				container + `.args: argument 1 ("-Dparallelism.default=2") is no longer a host name but an option`},
		},
		"a command that is no entrypoint of the official image gets no -D, only a note": {
			image: "flink:1.20", mounted: true, args: []string{"/opt/flink/bin/jobmanager.sh", "start-foreground"},
			wantArgs: []string{"/opt/flink/bin/jobmanager.sh", "start-foreground"},
			want: []string{podIPEnv,
				container + ".args[0]: not an entrypoint command: HA needs -D jobmanager.rpc.address=$(POD_IP)"},
		},
		"a JobManager that advertises a service name is told why HA needs its pod IP": {
			image: "flink:2.1", mounted: true, args: []string{"jobmanager", "flink-jobmanager"},
			wantArgs: []string{"jobmanager", "flink-jobmanager"},
			want: []string{podIPEnv,
				container + `.args: the JobManager advertises "flink-jobmanager"; with HA its standbys need $(POD_IP)`},
		},
		"the operator's standalone JobManager, which advertises its pod IP as $(_POD_IP_ADDRESS), is left alone": {
			image: "flink:1.20", mounted: true, args: []string{"jobmanager", "-D", "jobmanager.rpc.address=$(_POD_IP_ADDRESS)"},
			env:      []corev1.EnvVar{{Name: "_POD_IP_ADDRESS", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "status.podIP"}}}},
			wantArgs: []string{"jobmanager", "-D", "jobmanager.rpc.address=$(_POD_IP_ADDRESS)"},
		},
		"a positional host that is a variable of the pod IP is left so: released operators write $(_POD_IP_ADDRESS) there": {
			image: "flink:1.20", mounted: true, args: []string{"jobmanager", "$(_POD_IP_ADDRESS)"},
			env:      []corev1.EnvVar{{Name: "_POD_IP_ADDRESS", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "status.podIP"}}}},
			wantArgs: []string{"jobmanager", "$(_POD_IP_ADDRESS)"},
		},
		"a variable that does not hold the pod IP is no pod IP": {
			image: "flink:1.20", mounted: true, args: []string{"jobmanager", "-D", "jobmanager.rpc.address=$(HOST)"},
			env:      []corev1.EnvVar{{Name: "HOST", Value: "flink-jobmanager"}},
			wantArgs: []string{"jobmanager", "-D", "jobmanager.rpc.address=$(HOST)"},
			want: []string{podIPEnv,
				container + `.args: the JobManager advertises "$(HOST)"; with HA its standbys need $(POD_IP)`},
		},
		"a flink 1.15.2 session JobManager advertises its pod IP as its host name: its jobmanager.sh reads no -D": {
			image: "flink:1.15.2-scala_2.12-java11", mounted: true, args: []string{"jobmanager"},
			wantArgs: []string{"jobmanager", "$(POD_IP)"},
			want:     []string{podIPEnv, container + ".args[1]: set $(POD_IP), the JobManager's HA address (Flink 1.15.0-1.15.2 reads no -D)"},
		},
		"an empty host of a flink 1.15.0 session JobManager becomes its pod IP, before the port": {
			image: "flink:1.15.0", mounted: true, args: []string{"jobmanager", "", "8081"},
			wantArgs: []string{"jobmanager", "$(POD_IP)", "8081"},
			want:     []string{podIPEnv, container + ".args[1]: set $(POD_IP), the JobManager's HA address (Flink 1.15.0-1.15.2 reads no -D)"},
		},
		"a flink 1.15.1 session JobManager that gives a service name is told, and its dropped -D ignored": {
			image: "flink:1.15.1", mounted: true, args: []string{"jobmanager", "flink-jobmanager", "8081", "-Djobmanager.rpc.address=$(POD_IP)"},
			wantArgs: []string{"jobmanager", "flink-jobmanager", "8081", "-Djobmanager.rpc.address=$(POD_IP)"},
			want: []string{podIPEnv,
				container + `.args: the JobManager advertises "flink-jobmanager"; with HA its standbys need $(POD_IP)`},
		},
		"words with spaces where a flink 1.15.2 jobmanager.sh wants its host are kept, with a note": {
			image: "flink:1.15.2", mounted: true, args: []string{"jobmanager", "a b"},
			wantArgs: []string{"jobmanager", "a b"},
			want:     []string{podIPEnv, container + `.args[1]: "a b" is no host name to jobmanager.sh; with HA it must be $(POD_IP)`},
		},
		"a flink 1.15.3 session JobManager reads -D, so gets one": {
			image: "flink:1.15.3", mounted: true, args: []string{"jobmanager"},
			wantArgs: []string{"jobmanager", "-D", "jobmanager.rpc.address=$(POD_IP)"},
			want:     []string{podIPEnv, container + ".args: added -D jobmanager.rpc.address=$(POD_IP): HA advertises the pod IP"},
		},
		"FLINK_PROPERTIES of a flink 1.15.2 JobManager gets the HA keys its dropped -D would have set": {
			image: "flink:1.15.2", args: []string{"jobmanager", "$(POD_IP)", "8081", "-Dhigh-availability.cluster-id=x"}, env: props("kubernetes.cluster-id: p\n"),
			wantArgs: []string{"jobmanager", "$(POD_IP)", "8081", "-Dhigh-availability.cluster-id=x"},
			wantEnv:  "kubernetes.cluster-id: p\nhigh-availability: " + factory + "\nhigh-availability.storageDir: s3://flink-ha/team/p\nhigh-availability.cluster-id: p\n",
			want: []string{podIPEnv,
				envProps + ": set high-availability to the KubernetesHaServicesFactory class",
				envProps + ": Flink 1.15 reads only the factory class",
				envProps + ": set high-availability.storageDir: s3://flink-ha/team/p",
				envProps + ": set high-availability.cluster-id: p"},
		},
		"FLINK_PROPERTIES of a flink 1.15 image gets the factory class": {
			image: "flink:1.15", args: []string{"jobmanager", "$(POD_IP)"}, env: props("kubernetes.cluster-id: p\n"),
			wantArgs: []string{"jobmanager", "$(POD_IP)"},
			wantEnv:  "kubernetes.cluster-id: p\nhigh-availability: " + factory + "\nhigh-availability.storageDir: s3://flink-ha/team/p\nhigh-availability.cluster-id: p\n",
			want: []string{podIPEnv,
				container + ".env[FLINK_PROPERTIES]: set high-availability to the KubernetesHaServicesFactory class",
				container + ".env[FLINK_PROPERTIES]: Flink 1.15 reads only the factory class",
				container + ".env[FLINK_PROPERTIES]: set high-availability.storageDir: s3://flink-ha/team/p",
				container + ".env[FLINK_PROPERTIES]: set high-availability.cluster-id: p"},
		},
		"FLINK_PROPERTIES of an image of unknown version gets the key most versions read, and says which ignore it": {
			image: "registry.example/jobs/wordcount:3", args: []string{"jobmanager", "$(POD_IP)"}, env: props("kubernetes.cluster-id: p\n"),
			wantArgs: []string{"jobmanager", "$(POD_IP)"},
			wantEnv:  "kubernetes.cluster-id: p\nhigh-availability.type: kubernetes\nhigh-availability.storageDir: s3://flink-ha/team/p\nhigh-availability.cluster-id: p\n",
			want: []string{podIPEnv,
				container + ".env[FLINK_PROPERTIES]: set high-availability.type: kubernetes",
				container + ".env[FLINK_PROPERTIES]: set high-availability.storageDir: s3://flink-ha/team/p",
				container + ".env[FLINK_PROPERTIES]: set high-availability.cluster-id: p",
				container + ".env[FLINK_PROPERTIES]: Flink 1.15-1.16 ignore high-availability.type; pin the image tag"},
		},
		"FLINK_PROPERTIES of a flink 1.18 image is flat: the storageDir goes beside a bare high-availability": {
			image: "flink:1.18", args: []string{"jobmanager", "$(POD_IP)"}, env: props("kubernetes.cluster-id: p\nhigh-availability: kubernetes\n"),
			wantArgs: []string{"jobmanager", "$(POD_IP)"},
			wantEnv:  "kubernetes.cluster-id: p\nhigh-availability: kubernetes\nhigh-availability.storageDir: s3://flink-ha/team/p\nhigh-availability.cluster-id: p\n",
			want: []string{podIPEnv,
				envProps + ": set high-availability.storageDir: s3://flink-ha/team/p",
				envProps + ": set high-availability.cluster-id: p"},
		},
		"FLINK_PROPERTIES of a flink 1.19 image is nested: a bare high-availability gets nothing beside it": {
			image: "flink:1.19", args: []string{"jobmanager", "$(POD_IP)"}, env: props("kubernetes.cluster-id: p\nhigh-availability: kubernetes\n"),
			wantArgs: []string{"jobmanager", "$(POD_IP)"},
			wantEnv:  "kubernetes.cluster-id: p\nhigh-availability: kubernetes\n",
			want:     []string{podIPEnv},
		},
		"-D arguments of a flink 1.16 JobManager get the short value under high-availability": {
			image: "flink:1.16", args: []string{"jobmanager", "$(POD_IP)", "-D", "kubernetes.cluster-id=p"},
			wantArgs: []string{"jobmanager", "$(POD_IP)", "-D", "kubernetes.cluster-id=p", "-D", "high-availability=kubernetes",
				"-D", "high-availability.storageDir=s3://flink-ha/team/p", "-D", "high-availability.cluster-id=p"},
			want: []string{podIPEnv,
				container + ".args: set high-availability: kubernetes",
				container + ".args: Flink 1.16 reads no high-availability.type",
				container + ".args: set high-availability.storageDir: s3://flink-ha/team/p",
				container + ".args: set high-availability.cluster-id: p"},
		},
	}
	configMap := corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "flink-config"}}}
	for name, conf := range map[string]*corev1.VolumeMount{
		"FLINK_PROPERTIES over a ConfigMap at the conf directory gets no HA keys: Flink ignores it there": {Name: "conf", MountPath: "/opt/flink/conf"},
		"FLINK_PROPERTIES over flink-conf.yaml mounted alone gets no HA keys: Flink ignores it there": {
			Name: "conf", MountPath: "/opt/flink/conf/flink-conf.yaml", SubPath: "flink-conf.yaml"},
	} {
		cases[name] = workloadCase{
			image: "flink:1.18", args: []string{"jobmanager", "$(POD_IP)"}, env: props("kubernetes.cluster-id: p\n"), conf: conf, volume: configMap,
			wantArgs: []string{"jobmanager", "$(POD_IP)"},
			wantEnv:  "kubernetes.cluster-id: p\n",
			want:     []string{podIPEnv},
		}
	}
	emptyDir := workloadCase{image: "flink:1.18", conf: &corev1.VolumeMount{Name: "conf", MountPath: "/opt/flink/conf"},
		volume: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
	for name, tc := range map[string]workloadCase{
		"FLINK_PROPERTIES of a flink 1.17 image gets high-availability.type":                                  {image: "flink:1.17"},
		"FLINK_PROPERTIES of a flink 2.0 image gets high-availability.type":                                   {image: "flink:2.0"},
		"FLINK_PROPERTIES over a writable emptyDir at the conf directory gets the HA keys as without a mount": emptyDir,
	} {
		tc.args, tc.env = []string{"jobmanager", "$(POD_IP)"}, props("kubernetes.cluster-id: p\n")
		tc.wantArgs = []string{"jobmanager", "$(POD_IP)"}
		tc.wantEnv = "kubernetes.cluster-id: p\nhigh-availability.type: kubernetes\nhigh-availability.storageDir: s3://flink-ha/team/p\nhigh-availability.cluster-id: p\n"
		tc.want = []string{podIPEnv,
			envProps + ": set high-availability.type: kubernetes",
			envProps + ": set high-availability.storageDir: s3://flink-ha/team/p",
			envProps + ": set high-availability.cluster-id: p"}
		cases[name] = tc
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			meta, tpl := jobManager(tc.image, tc.args, tc.env, tc.mounted)
			if tc.conf != nil {
				tpl.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{*tc.conf}
				tpl.Spec.Volumes = []corev1.Volume{{Name: tc.conf.Name, VolumeSource: tc.volume}}
			}
			r := mutate.Workload(meta, tpl, testPolicy(t))
			assert.Equal(t, tc.want, r.Warnings())
			c := tpl.Spec.Containers[0]
			assert.Equal(t, tc.wantArgs, c.Args)
			if tc.wantEnv != "" {
				assert.Equal(t, tc.wantEnv, c.Env[0].Value)
			}
			assert.Empty(t, mutate.Workload(meta, tpl, testPolicy(t)).Changes, "a second pass changes nothing")
		})
	}
}

func TestConfigMap(t *testing.T) {
	t.Parallel()
	cm := func(name string, labels map[string]string, data map[string]string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team", Labels: labels}, Data: data}
	}
	running := "kubernetes.cluster-id: orders\nhigh-availability.type: kubernetes\nhigh-availability.storageDir: s3://b/ha\n"
	cases := map[string]struct {
		cm       *corev1.ConfigMap
		wantData map[string]string
		want     []string
	}{
		"a configuration that runs HA without a cluster-id gets none: its state would move": {
			cm:       cm("flink-config", nil, map[string]string{"flink-conf.yaml": running}),
			wantData: map[string]string{"flink-conf.yaml": running},
			want:     []string{"data[flink-conf.yaml]: no high-availability.cluster-id added: the running HA state under <storageDir>/default would move"},
		},
		"a configuration the webhook turns HA on in gets the cluster-id": {
			cm: cm("flink-config", nil, map[string]string{"config.yaml": "kubernetes.cluster-id: orders\n"}),
			wantData: map[string]string{"config.yaml": "kubernetes.cluster-id: orders\nhigh-availability.type: kubernetes\n" +
				"high-availability.storageDir: s3://flink-ha/team/orders\nhigh-availability.cluster-id: orders\n"},
			want: []string{"data[config.yaml]: set high-availability.type: kubernetes", "data[config.yaml]: set high-availability.storageDir: s3://flink-ha/team/orders",
				"data[config.yaml]: set high-availability.cluster-id: orders"},
		},
		"a configuration that names its HA storage gets the cluster-id too: nothing ran HA without one": {
			cm: cm("flink-config", nil, map[string]string{"config.yaml": "kubernetes.cluster-id: orders\nhigh-availability.type: kubernetes\n"}),
			wantData: map[string]string{"config.yaml": "kubernetes.cluster-id: orders\nhigh-availability.type: kubernetes\n" +
				"high-availability.storageDir: s3://flink-ha/team/orders\nhigh-availability.cluster-id: orders\n"},
			want: []string{"data[config.yaml]: set high-availability.storageDir: s3://flink-ha/team/orders", "data[config.yaml]: set high-availability.cluster-id: orders"},
		},
		"the operator's own ConfigMap is left alone": {
			cm: cm("flink-operator-config", map[string]string{"app.kubernetes.io/name": "flink-kubernetes-operator"},
				map[string]string{"flink-conf.yaml": "parallelism.default: 1\n", "log4j-operator.properties": ""}),
			wantData: map[string]string{"flink-conf.yaml": "parallelism.default: 1\n", "log4j-operator.properties": ""},
		},
		"native flink-config-<cid> is left alone: Flink wrote it from the cluster's own decision": {
			cm:       cm("flink-config-orders", map[string]string{"app": "orders", "type": "flink-native-kubernetes"}, map[string]string{"config.yaml": "kubernetes.cluster-id: orders\n"}),
			wantData: map[string]string{"config.yaml": "kubernetes.cluster-id: orders\n"},
		},
		"a launcher's filesystem credentials are left alone": {
			cm:       cm("s3", nil, map[string]string{"flink-conf.yaml": "s3.access-key: a\ns3.secret-key: b\n"}),
			wantData: map[string]string{"flink-conf.yaml": "s3.access-key: a\ns3.secret-key: b\n"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := mutate.ConfigMap(tc.cm, testPolicy(t))
			assert.Equal(t, tc.want, r.Warnings())
			assert.Equal(t, tc.wantData, tc.cm.Data)
		})
	}
}

func TestFlinkDeployment(t *testing.T) {
	t.Parallel()
	const fc = "spec.flinkConfiguration"
	cases := map[string]struct {
		version     string
		annotations map[string]string
		conf        map[string]any
		wantConf    map[string]any
		want        []string
	}{
		"flink 1.15 gets the factory class": {
			version:  "v1_15",
			wantConf: map[string]any{"high-availability": factory, "high-availability.storageDir": "s3://flink-ha/team/orders"},
			want: []string{fc + ": set high-availability: " + factory, fc + ": Flink 1.15 reads only the factory class",
				fc + ": set high-availability.storageDir: s3://flink-ha/team/orders"},
		},
		"flink 1.16 gets the short value under high-availability": {
			version:  "v1_16",
			wantConf: map[string]any{"high-availability": "kubernetes", "high-availability.storageDir": "s3://flink-ha/team/orders"},
			want: []string{fc + ": set high-availability: kubernetes", fc + ": Flink 1.16 reads no high-availability.type",
				fc + ": set high-availability.storageDir: s3://flink-ha/team/orders"},
		},
		"flink 1.16 with high-availability.type gets the key it reads": {
			version: "v1_16", conf: map[string]any{"high-availability.type": "kubernetes", "high-availability.storageDir": "s3://b/ha"},
			wantConf: map[string]any{"high-availability.type": "kubernetes", "high-availability": "kubernetes", "high-availability.storageDir": "s3://b/ha"},
			want:     []string{fc + ": set high-availability: kubernetes", fc + ": Flink 1.16 reads no high-availability.type"},
		},
		"flink 1.17 gets high-availability.type": {
			version:  "v1_17",
			wantConf: map[string]any{"high-availability.type": "kubernetes", "high-availability.storageDir": "s3://flink-ha/team/orders"},
			want:     []string{fc + ": set high-availability.type: kubernetes", fc + ": set high-availability.storageDir: s3://flink-ha/team/orders"},
		},
		"flink 1.18 is written flat: the storageDir goes beside a bare high-availability": {
			version: "v1_18", conf: map[string]any{"high-availability": "kubernetes"},
			wantConf: map[string]any{"high-availability": "kubernetes", "high-availability.storageDir": "s3://flink-ha/team/orders"},
			want:     []string{fc + ": set high-availability.storageDir: s3://flink-ha/team/orders"},
		},
		"flink 1.19 is still written flat: the storageDir goes beside a bare high-availability": {
			version: "v1_19", conf: map[string]any{"high-availability": "kubernetes"},
			wantConf: map[string]any{"high-availability": "kubernetes", "high-availability.storageDir": "s3://flink-ha/team/orders"},
			want:     []string{fc + ": set high-availability.storageDir: s3://flink-ha/team/orders"},
		},
		"flink 1.19 gets high-availability.type": {
			version:  "v1_19",
			wantConf: map[string]any{"high-availability.type": "kubernetes", "high-availability.storageDir": "s3://flink-ha/team/orders"},
			want:     []string{fc + ": set high-availability.type: kubernetes", fc + ": set high-availability.storageDir: s3://flink-ha/team/orders"},
		},
		"flink 2.0 is written nested: a bare high-availability gets no storageDir beside it": {
			version: "v2_0", conf: map[string]any{"high-availability": "kubernetes"},
			wantConf: map[string]any{"high-availability": "kubernetes"},
		},
		"flink 2.0 gets high-availability.type": {
			version:  "v2_0",
			wantConf: map[string]any{"high-availability.type": "kubernetes", "high-availability.storageDir": "s3://flink-ha/team/orders"},
			want:     []string{fc + ": set high-availability.type: kubernetes", fc + ": set high-availability.storageDir: s3://flink-ha/team/orders"},
		},
		"HA turned off is turned on, and the old value said": {
			version: "v1_20", conf: map[string]any{"high-availability.type": "NONE"},
			wantConf: map[string]any{"high-availability.type": "kubernetes", "high-availability.storageDir": "s3://flink-ha/team/orders"},
			want: []string{fc + ": removed high-availability.type: NONE", fc + ": set high-availability.type: kubernetes",
				fc + ": set high-availability.storageDir: s3://flink-ha/team/orders"},
		},
		"flink 2.1 nested configuration gets the keys in its block": {
			version: "v2_1", conf: map[string]any{"high-availability": map[string]any{"storageDir": "s3://b/ha"}},
			wantConf: map[string]any{"high-availability": map[string]any{"storageDir": "s3://b/ha", "type": "kubernetes"}},
			want:     []string{fc + ": set high-availability.type: kubernetes"},
		},
		"an opted-out deployment is left alone": {
			version: "v1_20", annotations: map[string]string{policy.AnnotationHA: "off"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			spec := map[string]any{"flinkVersion": tc.version, "serviceAccount": "flink"}
			if tc.conf != nil {
				spec["flinkConfiguration"] = tc.conf
			}
			u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "flink.apache.org/v1beta1", "kind": "FlinkDeployment",
				"metadata": map[string]any{"name": "orders", "namespace": "team"}, "spec": spec}}
			if tc.annotations != nil {
				u.SetAnnotations(tc.annotations)
			}
			r := mutate.FlinkDeployment(u, testPolicy(t))
			assert.Equal(t, tc.want, r.Warnings())
			got, _, err := unstructured.NestedFieldNoCopy(u.Object, "spec", "flinkConfiguration")
			require.NoError(t, err)
			if tc.wantConf == nil {
				assert.Equal(t, tc.conf == nil, got == nil)
				return
			}
			assert.Equal(t, tc.wantConf, got)
			assert.Empty(t, mutate.FlinkDeployment(u, testPolicy(t)).Changes, "a second pass changes nothing")
		})
	}
}

// TestFlinkDeploymentServiceAccount: spec.serviceAccount gets the
// policy's account when unset or "default"; the keys that give a role an
// account of its own are never changed, and where one names another
// account the warnings say that role does not run under spec.serviceAccount.
func TestFlinkDeploymentServiceAccount(t *testing.T) {
	t.Parallel()
	const jmKey = "kubernetes.jobmanager.service-account"
	const tmKey = "kubernetes.taskmanager.service-account"
	ha := map[string]any{"high-availability.type": "kubernetes", "high-availability.storageDir": "s3://b/ha"}
	with := func(kv ...string) map[string]any {
		m := maps.Clone(ha)
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	set := "spec.serviceAccount: set flink-ha, which may manage Flink's HA ConfigMaps"
	cases := map[string]struct {
		account  any // spec.serviceAccount; nil is unset
		conf     map[string]any
		wantAcct string
		want     []string
	}{
		"unset, no role keys: set, as always": {
			conf: ha, wantAcct: "flink-ha", want: []string{set},
		},
		"default, no role keys: set, as always": {
			account: "default", conf: ha, wantAcct: "flink-ha", want: []string{set},
		},
		"role keys naming the policy's account: set, as always": {
			conf: with(jmKey, "flink-ha", tmKey, "flink-ha"), wantAcct: "flink-ha", want: []string{set},
		},
		"kubernetes.service-account in flinkConfiguration is the operator's to overwrite: set, as always": {
			conf: with("kubernetes.service-account", "other"), wantAcct: "flink-ha", want: []string{set},
		},
		"a JobManager key naming default: the key is left, and only the TaskManagers run under the policy's account": {
			conf: with(jmKey, "default"), wantAcct: "flink-ha",
			want: []string{set + ", for the TaskManagers",
				"spec.flinkConfiguration[kubernetes.jobmanager.service-account]: the JobManager runs as default, not flink-ha"},
		},
		"a nested TaskManager key: only the JobManager runs under the policy's account": {
			account: "default",
			conf: map[string]any{"high-availability": map[string]any{"type": "kubernetes", "storageDir": "s3://b/ha"},
				"kubernetes": map[string]any{"taskmanager": map[string]any{"service-account": "workers"}}},
			wantAcct: "flink-ha",
			want: []string{set + ", for the JobManager",
				"spec.flinkConfiguration[kubernetes.taskmanager.service-account]: the TaskManagers run as workers, not flink-ha"},
		},
		"both roles under keys of their own: set, as the operator requires, and said to run nothing": {
			conf: with(jmKey, "leader", tmKey, "workers"), wantAcct: "flink-ha",
			want: []string{"spec.serviceAccount: set flink-ha, as the operator requires; no Flink pod runs under it",
				"spec.flinkConfiguration[kubernetes.jobmanager.service-account]: the JobManager runs as leader, not flink-ha",
				"spec.flinkConfiguration[kubernetes.taskmanager.service-account]: the TaskManagers run as workers, not flink-ha"},
		},
		"an account of the user's choosing: nothing changes, whatever the keys": {
			account: "mine", conf: with(jmKey, "default"), wantAcct: "mine",
		},
	}
	for name, tc := range cases {
		spec := map[string]any{"flinkVersion": "v1_20", "flinkConfiguration": tc.conf}
		if tc.account != nil {
			spec["serviceAccount"] = tc.account
		}
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "flink.apache.org/v1beta1", "kind": "FlinkDeployment",
			"metadata": map[string]any{"name": "orders", "namespace": "team"}, "spec": spec}}
		before := u.DeepCopy()
		r := mutate.FlinkDeployment(u, testPolicy(t))
		assert.Equal(t, tc.want, r.Warnings(), name)
		assert.Equal(t, tc.wantAcct, spec["serviceAccount"], name)
		assert.Equal(t, before.Object["spec"].(map[string]any)["flinkConfiguration"], spec["flinkConfiguration"], "%s: the configuration is left as it was", name)
	}
}

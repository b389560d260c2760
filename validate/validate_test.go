package validate

import (
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

// deep is a flinkConfiguration nested n levels deep.
func deep(n int) map[string]any {
	m := map[string]any{"type": "kubernetes"}
	for range n {
		m = map[string]any{"a": m}
	}
	return m
}

func testPolicy(t *testing.T, extra string) *policy.Policy {
	t.Helper()
	p, err := policy.Parse([]byte("storageDir: s3://ha/{namespace}/{clusterId}\n" + extra))
	require.NoError(t, err)
	return p
}

// said is what a rule said, one line each: the denials as kubectl prints
// them, then "warn: " and each warning.
func said(errs field.ErrorList, warnings []string) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	for _, w := range warnings {
		out = append(out, "warn: "+w)
	}
	return out
}

type workloadCase struct {
	annotations map[string]string
	labels      map[string]string // of the pod template; component: jobmanager when nil
	image       string            // flink:1.20 when empty
	env         []corev1.EnvVar
	args        []string
	mounted     bool   // a ConfigMap at the conf directory
	subPath     string // mounted alone from the ConfigMap, when mounted
	emptyDir    bool   // a writable emptyDir at the conf directory
	hostNetwork bool
	account     string // the pod template's serviceAccountName
	replicas    int32
	policy      string
	want        []string
}

func (tc workloadCase) objects() (*metav1.ObjectMeta, *corev1.PodTemplateSpec) {
	labels, image := tc.labels, tc.image
	if labels == nil {
		labels = map[string]string{"component": "jobmanager"}
	}
	if image == "" {
		image = "flink:1.20"
	}
	c := corev1.Container{Name: "jobmanager", Image: image, Args: tc.args, Env: tc.env}
	tpl := &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{c}}}
	tpl.Spec.HostNetwork, tpl.Spec.ServiceAccountName = tc.hostNetwork, tc.account
	if tc.mounted {
		mount := corev1.VolumeMount{Name: "conf", MountPath: "/opt/flink/conf"}
		if tc.subPath != "" {
			mount.MountPath, mount.SubPath = mount.MountPath+"/"+tc.subPath, tc.subPath
		}
		tpl.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{mount}
		tpl.Spec.Volumes = []corev1.Volume{{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "flink-config"}}}}}
	}
	if tc.emptyDir {
		tpl.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "conf", MountPath: "/opt/flink/conf"}}
		tpl.Spec.Volumes = []corev1.Volume{{Name: "conf", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	}
	return &metav1.ObjectMeta{Name: "jm", Namespace: "team", Annotations: tc.annotations, Labels: labels}, tpl
}

// ignoredProps is the warning for a FLINK_PROPERTIES over a read-only
// mount of flink-config at path.
func ignoredProps(versions, path string) string {
	return envProps + ": Flink " + versions + " ignores it: the image's entrypoint cannot write it into the read-only configuration mounted at " +
		path + "; put these keys in ConfigMap flink-config, or pass them as -D arguments"
}

func props(text string) []corev1.EnvVar {
	return []corev1.EnvVar{{Name: "FLINK_PROPERTIES", Value: text}}
}

const (
	storageDirRequired = `[high-availability.storageDir]: Required value: Kubernetes HA keeps job graphs and checkpoint pointers there: ` +
		`set high-availability.storageDir to a URI every JobManager can reach, such as s3://<bucket>/flink-ha/<cluster-id>`
	clusterIDOneThing = `[kubernetes.cluster-id]: Required value: the one thing to add: Kubernetes HA names its ConfigMaps after it and the ` +
		`policy's storageDir follows from it; set kubernetes.cluster-id to a name unique in the namespace, such as the JobManager Deployment's`
	clusterIDRequired = `[kubernetes.cluster-id]: Required value: Kubernetes HA names its ConfigMaps after it: set kubernetes.cluster-id ` +
		`to a name unique in the namespace, such as the JobManager Deployment's`
	standbysNeedHA = `spec.replicas: Invalid value: 2: more than one JobManager needs HA for leader election: turn HA on or run 1 JobManager`
	container      = "spec.template.spec.containers[0]"
	envProps       = container + ".env[FLINK_PROPERTIES]"
)

func TestWorkload(t *testing.T) {
	t.Parallel()
	off := map[string]string{policy.AnnotationHA: "off"}
	native := map[string]string{"component": "jobmanager", "type": "flink-native-kubernetes"}
	cases := map[string]workloadCase{
		"a JobManager whose configuration is mounted has nothing to check": {
			args: []string{"jobmanager"}, mounted: true, replicas: 1,
		},
		"standbys under a policy that makes every cluster HA are fine": {
			args: []string{"jobmanager"}, mounted: true, replicas: 2,
		},
		"standbys of an opted-out cluster are denied": {
			annotations: off, args: []string{"jobmanager"}, mounted: true, replicas: 2,
			want: []string{standbysNeedHA},
		},
		"standbys where the container turns HA off are denied, and so is turning it off": {
			args: []string{"jobmanager", "-D", "high-availability.type=NONE"}, replicas: 2,
			want: []string{
				container + `.args[high-availability.type]: Required value: this cluster's policy requires HA: set high-availability.type: kubernetes`,
				container + ".args" + clusterIDOneThing,
				standbysNeedHA,
			},
		},
		"standbys of a mounted configuration are admitted in opt-in mode: it may turn HA on": {
			args: []string{"jobmanager"}, mounted: true, replicas: 2, policy: "mode: opt-in\n",
		},
		"standby native JobManagers whose HA comes from the mounted configuration are admitted in opt-in mode": {
			labels: native, args: []string{"bash", "-c", "kubernetes-jobmanager.sh kubernetes-session"}, mounted: true,
			replicas: 2, policy: "mode: opt-in\n",
			want: nil,
		},
		"a native JobManager under the default account is warned about": {
			labels: native, args: []string{"bash", "-c", "kubernetes-jobmanager.sh kubernetes-session"}, replicas: 1,
			want: []string{"warn: spec.template.spec.serviceAccountName: a native Flink JobManager under the default account cannot manage " +
				"its HA ConfigMaps or pods; set kubernetes.service-account: flink-ha, the policy's account, which is bound " +
				"to native Flink's rights while a native JobManager runs under it"},
		},
		"a native JobManager on the host network is told its account needs to update its Service": {
			labels: native, args: []string{"bash", "-c", "kubernetes-jobmanager.sh kubernetes-session"}, replicas: 1, hostNetwork: true,
			want: []string{"warn: spec.template.spec.serviceAccountName: a native Flink JobManager under the default account cannot manage " +
				"its HA ConfigMaps or pods; set kubernetes.service-account: flink-ha, the policy's account, which is bound " +
				"to native Flink's rights while a native JobManager runs under it",
				"warn: spec.template.spec.hostNetwork: on the host network the JobManager updates its Service at start (services get, update), " +
					"which the roles the webhook binds do not grant: bind them to the account yourself, or the JobManager fails to start"},
		},
		"a native JobManager on the host network under an account the check asks about is not told again": {
			labels: native, args: []string{"bash", "-c", "kubernetes-jobmanager.sh kubernetes-session"}, replicas: 1, hostNetwork: true, account: "mine",
		},
		"with the account check off, a native JobManager on the host network under its own account is told": {
			labels: native, args: []string{"bash", "-c", "kubernetes-jobmanager.sh kubernetes-session"}, replicas: 1, hostNetwork: true, account: "mine",
			policy: "checkAccounts: off\n",
			want: []string{"warn: spec.template.spec.hostNetwork: on the host network the JobManager updates its Service at start (services get, update), " +
				"which the roles the webhook binds do not grant: bind them to the account yourself, or the JobManager fails to start"},
		},
		"a standalone JobManager on the host network updates no Service": {
			args: []string{"jobmanager"}, mounted: true, replicas: 1, hostNetwork: true,
		},
		"a complete FLINK_PROPERTIES configuration passes": {
			env:  props("kubernetes.cluster-id: jm\nhigh-availability.type: kubernetes\nhigh-availability.storageDir: s3://b/ha\n"),
			args: []string{"jobmanager"}, replicas: 2,
		},
		"FLINK_PROPERTIES without a cluster-id: the one thing to add": {
			env:  props("high-availability.type: kubernetes\nhigh-availability.storageDir: s3://b/ha\n"),
			args: []string{"jobmanager"}, replicas: 1,
			want: []string{envProps + clusterIDRequired},
		},
		"FLINK_PROPERTIES of a 1.19+ image cannot hold high-availability beside its storageDir": {
			env:  props("kubernetes.cluster-id: jm\nhigh-availability: kubernetes\nhigh-availability.storageDir: s3://b/ha\n"),
			args: []string{"jobmanager"}, replicas: 1,
			want: []string{envProps + `[high-availability]: Invalid value: "kubernetes": Flink 1.20 images write FLINK_PROPERTIES into ` +
				`nested config.yaml, where high-availability cannot be a value and the parent of high-availability.storageDir (line 3): ` +
				`rename high-availability to high-availability.type`},
		},
		"FLINK_PROPERTIES comments are no comments on 1.19+ images": {
			env:  props("kubernetes.cluster-id: jm\nhigh-availability.type: kubernetes\nhigh-availability.storageDir: s3://b/ha # shared\n"),
			args: []string{"jobmanager"}, replicas: 1,
			want: []string{"warn: " + envProps + `: line 3: the Flink 1.19+ entrypoint reads no comments: high-availability.storageDir ` +
				`is "s3://b/ha#shared" there (as Flink 1.20 reads it)`},
		},
		"a line an image of unknown version may skip is warned about, and HA is off where it is skipped": {
			image: "registry.example/jobs/wordcount:3",
			env:   props("kubernetes.cluster-id: jm\nhigh-availability.type:kubernetes\nhigh-availability.storageDir: s3://b/ha\n"),
			args:  []string{"jobmanager"}, replicas: 1,
			want: []string{
				envProps + `[high-availability]: Required value: this cluster's policy requires HA: set high-availability: ` +
					`org.apache.flink.kubernetes.highavailability.KubernetesHaServicesFactory`,
				"warn: " + envProps + `: line 2: Flink skips "high-availability.type:kubernetes": it has no ": " between key ` +
					`and value (as Flink 1.15-1.18 reads it)`},
		},
		"the same FLINK_PROPERTIES on a 1.18 image is flat and fine": {
			image: "flink:1.18",
			env:   props("kubernetes.cluster-id: jm\nhigh-availability: kubernetes\nhigh-availability.storageDir: s3://b/ha\n"),
			args:  []string{"jobmanager"}, replicas: 1,
		},
		"flink 1.16 reads no high-availability.type: HA is off there": {
			image: "flink:1.16",
			env:   props("kubernetes.cluster-id: jm\nhigh-availability.type: kubernetes\nhigh-availability.storageDir: s3://b/ha\n"),
			args:  []string{"jobmanager"}, replicas: 1,
			want: []string{
				envProps + `[high-availability.type]: Invalid value: "kubernetes": Flink 1.16 (image flink:1.16) reads no ` +
					`high-availability.type, so HA is off: write high-availability: kubernetes`,
				envProps + `[high-availability]: Required value: this cluster's policy requires HA: set high-availability: kubernetes`,
			},
		},
		"flink 1.15 takes kubernetes for a class name": {
			image: "flink:1.15",
			env:   props("kubernetes.cluster-id: jm\nhigh-availability: kubernetes\nhigh-availability.storageDir: s3://b/ha\n"),
			args:  []string{"jobmanager"}, replicas: 1,
			want: []string{envProps + `[high-availability]: Invalid value: "kubernetes": Flink 1.15 takes "kubernetes" for the class ` +
				`name of an HA factory and fails to start; write org.apache.flink.kubernetes.highavailability.KubernetesHaServicesFactory`},
		},
		"flink 2.1 application cluster with --host is denied: its job class would become a program argument": {
			image: "flink:2.1", mounted: true, replicas: 1,
			args: []string{"standalone-job", "--host", "$(POD_IP)", "--job-classname", "org.example.Job"},
			want: []string{container + `.args[1]: Invalid value: "--host": Flink 2 has no --host: from here on the job class and its ` +
				`arguments become program arguments; replace --host <address> with -D jobmanager.rpc.address=<address> (image flink:2.1)`},
		},
		"the operator's --host on flink 2.1 is warned about, not denied: the user cannot change the operator's arguments": {
			image: "flink:2.1", mounted: true, replicas: 1,
			labels: map[string]string{"app": "orders", "component": "jobmanager", "type": "flink-standalone-kubernetes"},
			args:   []string{"standalone-job", "--job-classname", "org.example.Job", "--host", "$(_POD_IP_ADDRESS)"},
			want: []string{"warn: " + container + `.args[3]: Flink 2 has no --host: from here on the job's arguments are program arguments; ` +
				`the operator's releases up to 1.15 write it with HA (FLINK-38795 changes that)`},
		},
		"a --host among a flink 2.1 job's program arguments is the program's": {
			image: "flink:2.1", mounted: true, replicas: 1,
			args: []string{"standalone-job", "--job-classname", "org.example.Job", "--input", "s3://in", "--host", "db.example"},
		},
		"flink 1.20 application cluster keeps its --host": {
			mounted: true, replicas: 1, args: []string{"standalone-job", "--host", "$(POD_IP)", "--job-classname", "org.example.Job"},
		},
		"an application cluster of unknown version with --host is warned about": {
			image: "registry.example/jobs/wordcount:3", mounted: true, replicas: 1,
			args: []string{"standalone-job", "--host", "$(POD_IP)", "--job-classname", "org.example.Job"},
			want: []string{"warn: " + container + `.args[1]: if the image runs Flink 2: Flink 2 has no --host: from here on the job class ` +
				`and its arguments become program arguments; replace --host <address> with -D jobmanager.rpc.address=<address>`},
		},
		"a --host after --jars, where 1.15-1.18 stop but Flink 2 reads on, is warned about when the version is unknown": {
			image: "registry.example/jobs/wordcount:3", mounted: true, replicas: 1,
			args: []string{"standalone-job", "--jars", "/opt/flink/usrlib/job.jar", "--host", "$(POD_IP)", "--job-classname", "org.example.Job"},
			want: []string{"warn: " + container + `.args[3]: if the image runs Flink 2: Flink 2 has no --host: from here on the job class ` +
				`and its arguments become program arguments; replace --host <address> with -D jobmanager.rpc.address=<address>`},
		},
		"layers that disagree on a key that is not HA's are no HA problem": {
			env:  props("kubernetes.cluster-id: jm\nhigh-availability.type: kubernetes\nhigh-availability.storageDir: s3://b/ha\nparallelism.default: 2\n"),
			args: []string{"jobmanager", "-D", "parallelism.default=3"}, replicas: 1,
		},
		"layers that disagree on the storageDir are denied": {
			env:  props("kubernetes.cluster-id: jm\nhigh-availability.type: kubernetes\nhigh-availability.storageDir: s3://b/ha\n"),
			args: []string{"jobmanager", "-D", "high-availability.storageDir=s3://c/ha"}, replicas: 1,
			want: []string{envProps + `[high-availability.storageDir]: Invalid value: "s3://b/ha": high-availability.storageDir is ` +
				`"s3://b/ha" at ` + envProps + ` line 3 but "s3://c/ha" at ` + container + `.args argument 2, which wins; set it in one place`},
		},
		"a mounted configuration's override that turns HA off is denied": {
			args: []string{"jobmanager", "-D", "high-availability.type=NONE"}, mounted: true, replicas: 1,
			want: []string{container + `.args[high-availability.type]: Invalid value: "NONE": overrides the mounted configuration; ` +
				`this cluster's policy requires HA: remove it or set high-availability.type: kubernetes`},
		},
		"FLINK_PROPERTIES over a mounted configuration is a warning, never a denial: Flink ignores it": {
			env: props("high-availability.type: none\n"), args: []string{"jobmanager"}, mounted: true, replicas: 1,
			want: []string{"warn: " + ignoredProps("1.20", "/opt/flink/conf")},
		},
		"FLINK_PROPERTIES over flink-conf.yaml mounted alone is a warning too": {
			image: "flink:1.18", env: props("high-availability: zookeeper\n"), args: []string{"jobmanager"}, mounted: true, subPath: "flink-conf.yaml", replicas: 1,
			want: []string{"warn: " + ignoredProps("1.18", "/opt/flink/conf/flink-conf.yaml")},
		},
		"a -D argument over flink-conf.yaml mounted alone that turns HA off is denied: Flink reads it": {
			image: "flink:1.18", args: []string{"jobmanager", "-D", "high-availability=NONE"}, mounted: true, subPath: "flink-conf.yaml", replicas: 1,
			want: []string{container + `.args[high-availability]: Invalid value: "NONE": overrides the mounted configuration; ` +
				`this cluster's policy requires HA: remove it or set high-availability: kubernetes`},
		},
		"FLINK_PROPERTIES over an emptyDir at the conf directory is the container's configuration": {
			env:  props("kubernetes.cluster-id: jm\nhigh-availability.type: kubernetes\nhigh-availability.storageDir: s3://b/ha\n"),
			args: []string{"jobmanager"}, emptyDir: true, replicas: 2,
		},
		"FLINK_PROPERTIES over an emptyDir that turns HA off is read as without a mount": {
			env: props("high-availability.type: none\n"), args: []string{"jobmanager"}, emptyDir: true, replicas: 2,
			want: []string{envProps + "[high-availability.type]: Required value: this cluster's policy requires HA: set high-availability.type: kubernetes",
				envProps + clusterIDOneThing, standbysNeedHA},
		},
		"opting out where the policy forbids it is denied": {
			annotations: off, args: []string{"jobmanager"}, mounted: true, replicas: 1, policy: "allowOptOut: false\n",
			want: []string{"metadata.annotations[flink-ha-webhook/ha]: Forbidden: " + policy.ErrOptOutForbidden.Error()},
		},
		"an exempt namespace is not checked": {
			annotations: off, args: []string{"jobmanager"}, replicas: 3, policy: "exemptNamespaces: [team]\n",
		},
		"a FLINK_PROPERTIES that cannot be read is denied": {
			env: props("kubernetes.cluster-id: jm\x00\n"), args: []string{"jobmanager"}, replicas: 1,
			want: []string{envProps + ": Invalid value: line 1: contains a NUL byte; remove it"},
		},
		"standbys whose own configuration has no HA are denied in opt-in mode": {
			env: props("kubernetes.cluster-id: jm\n"), args: []string{"jobmanager"}, replicas: 2, policy: "mode: opt-in\n",
			want: []string{standbysNeedHA},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			meta, tpl := tc.objects()
			errs, warnings := Workload(meta, tpl, tc.replicas, field.NewPath("spec", "replicas"), testPolicy(t, tc.policy))
			assert.Equal(t, tc.want, said(errs, warnings))
		})
	}
}

func TestWorkloadIgnoresWhatIsNotFlink(t *testing.T) {
	t.Parallel()
	meta := &metav1.ObjectMeta{Name: "web", Namespace: "team"}
	tpl := &corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}}}
	errs, warnings := Workload(meta, tpl, 5, field.NewPath("spec", "replicas"), testPolicy(t, ""))
	assert.Empty(t, errs)
	assert.Empty(t, warnings)
}

func TestFlinkDeployment(t *testing.T) {
	t.Parallel()
	const fc = "spec.flinkConfiguration"
	fd := func(name string, annotations map[string]any, spec map[string]any) *unstructured.Unstructured {
		meta := map[string]any{"name": name, "namespace": "team"}
		if annotations != nil {
			meta["annotations"] = annotations
		}
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "flink.apache.org/v1beta1", "kind": "FlinkDeployment", "metadata": meta, "spec": spec,
		}}
	}
	ha := map[string]any{"high-availability.type": "kubernetes", "high-availability.storageDir": "s3://b/ha"}
	off := map[string]any{policy.AnnotationHA: "off"}
	zk := map[string]any{"high-availability.type": "zookeeper", "high-availability.zookeeper.quorum": "zk:2181"}
	cases := map[string]struct {
		obj    *unstructured.Unstructured
		policy string
		want   []string
	}{
		"a native cluster on the host network is told its account needs to update its Service": {obj: fd("orders", nil, map[string]any{
			"flinkVersion": "v1_20", "flinkConfiguration": map[string]any{"high-availability.type": "kubernetes",
				"high-availability.storageDir": "s3://b/ha", "kubernetes.hostnetwork.enabled": "TRUE"}}),
			want: []string{"warn: " + fc + "[kubernetes.hostnetwork.enabled]: on the host network the JobManager updates its Service at start " +
				"(services get, update), which the roles the webhook binds do not grant: bind them to the account yourself, or the JobManager fails to start"}},
		"a native cluster on the host network under an account the check asks about is not told again": {obj: fd("orders", nil, map[string]any{
			"flinkVersion": "v1_20", "serviceAccount": "mine", "flinkConfiguration": map[string]any{"high-availability.type": "kubernetes",
				"high-availability.storageDir": "s3://b/ha", "kubernetes.hostnetwork.enabled": "true"}})},
		"with the account check off, a native cluster on the host network under its own account is told": {obj: fd("orders", nil, map[string]any{
			"flinkVersion": "v1_20", "serviceAccount": "mine", "flinkConfiguration": map[string]any{"high-availability.type": "kubernetes",
				"high-availability.storageDir": "s3://b/ha", "kubernetes.hostnetwork.enabled": "true"}}),
			policy: "checkAccounts: off\n",
			want: []string{"warn: " + fc + "[kubernetes.hostnetwork.enabled]: on the host network the JobManager updates its Service at start " +
				"(services get, update), which the roles the webhook binds do not grant: bind them to the account yourself, or the JobManager fails to start"}},
		"a standalone cluster on the host network needs no Service rights: the operator makes its TaskManagers": {obj: fd("orders", nil, map[string]any{
			"flinkVersion": "v1_20", "mode": "standalone", "flinkConfiguration": map[string]any{"high-availability.type": "kubernetes",
				"high-availability.storageDir": "s3://b/ha", "kubernetes.hostnetwork.enabled": "true"}})},
		"host network off needs nothing": {obj: fd("orders", nil, map[string]any{
			"flinkVersion": "v1_20", "flinkConfiguration": map[string]any{"high-availability.type": "kubernetes",
				"high-availability.storageDir": "s3://b/ha", "kubernetes.hostnetwork.enabled": "false"}})},
		"an exempt namespace is not checked": {obj: fd("orders.v2", nil, map[string]any{"flinkVersion": "v1_20", "flinkConfiguration": zk,
			"jobManager": map[string]any{"replicas": int64(2)}}), policy: "exemptNamespaces: [team]\n"},
		"an opted-out deployment is not checked": {obj: fd("orders", off, map[string]any{"flinkVersion": "v1_20", "flinkConfiguration": zk})},
		"opting out where the policy forbids it is denied": {obj: fd("orders", off, map[string]any{"flinkVersion": "v1_20", "flinkConfiguration": ha}),
			policy: "allowOptOut: false\n",
			want:   []string{"metadata.annotations[flink-ha-webhook/ha]: Forbidden: " + policy.ErrOptOutForbidden.Error()}},
		"zookeeper is denied with the fix": {obj: fd("orders", nil, map[string]any{"flinkVersion": "v1_20", "flinkConfiguration": zk}),
			want: []string{fc + `[high-availability.type]: Invalid value: "zookeeper": this cluster's policy requires Kubernetes HA: set ` +
				`high-availability.type: kubernetes (ZooKeeper state is not migrated), or annotate flink-ha-webhook/ha: "off"`}},
		"zookeeper is denied without the opt-out where the policy forbids it": {obj: fd("orders", nil, map[string]any{"flinkVersion": "v1_20", "flinkConfiguration": zk}),
			policy: "allowOptOut: false\n",
			want: []string{fc + `[high-availability.type]: Invalid value: "zookeeper": this cluster's policy requires Kubernetes HA: set ` +
				`high-availability.type: kubernetes (ZooKeeper state is not migrated)`}},
		"opt-in: ZooKeeper HA the cluster chose is admitted": {obj: fd("orders", nil, map[string]any{"flinkVersion": "v1_20", "flinkConfiguration": zk}),
			policy: "mode: opt-in\n"},
		"flink 1.17 reads high-availability.type": {obj: fd("orders", nil, map[string]any{"flinkVersion": "v1_17", "flinkConfiguration": ha})},
		"flink 1.19 keeps a flat bare high-availability beside its storageDir: the operator writes flink-conf.yaml": {obj: fd("orders", nil,
			map[string]any{"flinkVersion": "v1_19", "flinkConfiguration": map[string]any{"high-availability": "kubernetes", "high-availability.storageDir": "s3://b/ha"}})},
		"a deployment without a spec is left to the API server's schema": {obj: &unstructured.Unstructured{Object: map[string]any{
			"metadata": map[string]any{"name": "orders", "namespace": "team"}}}},
		"a flinkConfiguration nested too deep is denied": {obj: fd("orders", nil, map[string]any{"flinkVersion": "v1_20", "flinkConfiguration": deep(65)}),
			want: []string{fc + ": Invalid value: flinkConfiguration nests deeper than 64 levels"}},
		"a key set both flat and nested is warned about: which the operator uses is not defined": {obj: fd("orders", nil, map[string]any{"flinkVersion": "v1_20",
			"flinkConfiguration": map[string]any{"high-availability.type": "kubernetes", "high-availability.storageDir": "s3://b/ha",
				"high-availability": map[string]any{"storageDir": "s3://b/ha"}}}),
			want: []string{"warn: " + fc + `: "high-availability.storageDir" is set twice, nested and flat: keep one, the operator may read either`}},
		"a complete HA deployment passes": {obj: fd("orders", nil, map[string]any{"flinkVersion": "v1_20", "flinkConfiguration": ha})},
		"a nested complete configuration passes": {obj: fd("orders", nil, map[string]any{"flinkVersion": "v2_1", "flinkConfiguration": map[string]any{
			"high-availability": map[string]any{"type": "kubernetes", "storageDir": "s3://b/ha"}}})},
		"flink 1.15 with the factory class beside its storageDir passes": {obj: fd("orders", nil, map[string]any{"flinkVersion": "v1_15",
			"flinkConfiguration": map[string]any{"high-availability": "org.apache.flink.kubernetes.highavailability.KubernetesHaServicesFactory", "high-availability.storageDir": "s3://b/ha"}})},
		"flink 1.20 keeps a flat bare high-availability beside its storageDir": {obj: fd("orders", nil, map[string]any{"flinkVersion": "v1_20",
			"flinkConfiguration": map[string]any{"high-availability": "kubernetes", "high-availability.storageDir": "s3://b/ha"}})},
		"flink 1.18 keeps state.backend beside state.backend.incremental": {obj: fd("orders", nil, map[string]any{"flinkVersion": "v1_18",
			"flinkConfiguration": map[string]any{"state.backend": "rocksdb", "state.backend.incremental": "true", "high-availability.type": "kubernetes", "high-availability.storageDir": "s3://b/ha"}})},
		"flink 2.0 cannot hold high-availability beside its storageDir": {obj: fd("orders", nil, map[string]any{"flinkVersion": "v2_0",
			"flinkConfiguration": map[string]any{"high-availability": "kubernetes", "high-availability.storageDir": "s3://b/ha"}}),
			want: []string{fc + `[high-availability]: Invalid value: "kubernetes": high-availability is a value and the prefix of ` +
				`high-availability.storageDir, which nested YAML cannot hold: rename high-availability to high-availability.type`}},
		"flink 2.0 cannot hold state.backend beside state.backend.incremental": {obj: fd("orders", nil, map[string]any{"flinkVersion": "v2_0",
			"flinkConfiguration": map[string]any{"state.backend": "rocksdb", "state.backend.incremental": "true", "high-availability.type": "kubernetes", "high-availability.storageDir": "s3://b/ha"}}),
			want: []string{fc + `[state.backend]: Invalid value: "rocksdb": state.backend is a value and the prefix of ` +
				`state.backend.incremental, which nested YAML cannot hold: rename state.backend to state.backend.type`}},
		"flink 1.16 reads no high-availability.type": {obj: fd("orders", nil, map[string]any{"flinkVersion": "v1_16", "flinkConfiguration": ha}),
			want: []string{
				fc + `[high-availability.type]: Invalid value: "kubernetes": Flink 1.16 (spec.flinkVersion v1_16) reads no high-availability.type, ` +
					`so HA is off: write high-availability: kubernetes`,
				fc + `[high-availability]: Required value: this cluster's policy requires HA: set high-availability: kubernetes`,
			}},
		"flink 1.15 takes kubernetes for a class name": {obj: fd("orders", nil, map[string]any{"flinkVersion": "v1_15",
			"flinkConfiguration": map[string]any{"high-availability": "kubernetes", "high-availability.storageDir": "s3://b/ha"}}),
			want: []string{fc + `[high-availability]: Invalid value: "kubernetes": Flink 1.15 takes "kubernetes" for the class name of an HA ` +
				`factory and fails to start; write org.apache.flink.kubernetes.highavailability.KubernetesHaServicesFactory`}},
		"a storageDir without a scheme resolves against fs.default-scheme": {obj: fd("orders", nil, map[string]any{"flinkVersion": "v1_20",
			"flinkConfiguration": map[string]any{"high-availability.type": "kubernetes", "high-availability.storageDir": "/flink/ha", "fs.default-scheme": "hdfs://namenode:8020/"}})},
		"keys the operator sets are refused": {obj: fd("orders", nil, map[string]any{"flinkVersion": "v1_20", "flinkConfiguration": map[string]any{
			"high-availability.type": "kubernetes", "high-availability.storageDir": "s3://b/ha", "kubernetes.namespace": "elsewhere"}}),
			want: []string{fc + "[kubernetes.namespace]: Forbidden: the operator sets kubernetes.namespace from the FlinkDeployment and refuses it here: remove it"}},
		"a name that cannot be a cluster-id": {obj: fd("orders.v2", nil, map[string]any{"flinkVersion": "v1_20", "flinkConfiguration": ha}),
			want: []string{`metadata.name: Invalid value: "orders.v2": is the cluster-id of the Flink cluster: "orders.v2" is not a valid cluster-id: ` +
				`use lower-case letters, digits and '-', starting with a letter and ending with a letter or digit`}},
		"last-state without HA is allowed since operator 1.10, with a warning": {obj: fd("orders", off, map[string]any{"flinkVersion": "v1_20",
			"job": map[string]any{"upgradeMode": "last-state"}}),
			want: []string{"warn: spec.job.upgradeMode: last-state without HA needs Flink Kubernetes Operator 1.10+ and a checkpoint directory; " +
				"with HA a JobManager failover also keeps the job"}},
		"standby JobManagers of an opted-out deployment are denied": {obj: fd("orders", off, map[string]any{"flinkVersion": "v1_20",
			"jobManager": map[string]any{"replicas": int64(2)}}),
			want: []string{"spec.jobManager.replicas: Invalid value: 2: more than one JobManager needs HA for leader election: set high-availability.type: kubernetes or use 1 replica"}},
		"a custom HA factory is admitted with a warning": {obj: fd("orders", nil, map[string]any{"flinkVersion": "v1_20", "flinkConfiguration": map[string]any{
			"high-availability.type": "org.example.HaFactory"}}),
			want: []string{"warn: " + fc + "[high-availability.type]: org.example.HaFactory is a custom HA factory; the webhook does not check it"}},
		"flinkConfiguration that is not an object": {obj: fd("orders", nil, map[string]any{"flinkConfiguration": "high-availability: kubernetes"}),
			want: []string{fc + ": Invalid value: must be an object of Flink configuration keys"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, said(FlinkDeployment(tc.obj, testPolicy(t, tc.policy))))
		})
	}
}

func TestConfigMap(t *testing.T) {
	t.Parallel()
	const legacy, standard = "data[flink-conf.yaml]", "data[config.yaml]"
	cm := func(name string, labels map[string]string, data map[string]string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team", Labels: labels}, Data: data}
	}
	conf := func(text string) map[string]string { return map[string]string{"flink-conf.yaml": text} }
	optedOut := func(c *corev1.ConfigMap) *corev1.ConfigMap {
		c.Annotations = map[string]string{policy.AnnotationHA: "off"}
		return c
	}
	haOn := "kubernetes.cluster-id: orders\nhigh-availability.type: kubernetes\n"
	cases := map[string]struct {
		cm     *corev1.ConfigMap
		policy string
		want   []string
	}{
		"a complete configuration passes": {cm: cm("flink-config", nil, conf(haOn+"high-availability.storageDir: s3://b/ha\n"))},
		"an exempt namespace is not checked": {cm: cm("flink-config", nil, conf("kubernetes.cluster-id: zk\nhigh-availability.type: zookeeper\n")),
			policy: "exemptNamespaces: [team]\n"},
		"an opted-out configuration is not checked": {cm: optedOut(cm("flink-config", nil, conf("kubernetes.cluster-id: zk\nhigh-availability.type: zookeeper\n")))},
		"opting out where the policy forbids it is denied": {cm: optedOut(cm("flink-config", nil, conf(haOn+"high-availability.storageDir: s3://b/ha\n"))),
			policy: "allowOptOut: false\n",
			want:   []string{"metadata.annotations[flink-ha-webhook/ha]: Forbidden: " + policy.ErrOptOutForbidden.Error()}},
		"opt-in: ZooKeeper HA the cluster chose is admitted": {cm: cm("flink-config", nil, conf("kubernetes.cluster-id: zk\nhigh-availability.type: zookeeper\n")),
			policy: "mode: opt-in\n"},
		"opt-in: a configuration without HA is not checked": {cm: cm("flink-config", nil, conf("kubernetes.cluster-id: orders\n")),
			policy: "mode: opt-in\n"},
		"the operator's flink-operator-config is not a cluster's": {cm: cm("flink-operator-config",
			map[string]string{"app.kubernetes.io/name": "flink-kubernetes-operator"},
			map[string]string{"flink-conf.yaml": "taskmanager.numberOfTaskSlots: 1\nparallelism.default: 1\n", "log4j-operator.properties": ""})},
		"a file of kubernetes.operator keys configures no cluster": {cm: cm("operator-defaults", nil, conf("kubernetes.operator.reconcile.interval: 15 s\n"))},
		"a launcher's filesystem credentials configure no cluster": {cm: cm("s3-credentials", nil, conf("s3.access-key: x\ns3.secret-key: y\n"))},
		"native flink-config-<cid> is judged where it was written": {cm: cm("flink-config-orders",
			map[string]string{"app": "orders", "type": "flink-native-kubernetes"}, map[string]string{"config.yaml": "kubernetes.cluster-id: orders\n"})},
		"an HA ConfigMap has nothing to check": {cm: cm("orders-cluster-config-map", nil, map[string]string{"counter": "1"})},
		"a cluster-id Flink cannot have is denied naming it": {cm: cm("flink-config", nil,
			conf("kubernetes.cluster-id: Orders_1\nhigh-availability.type: kubernetes\nhigh-availability.storageDir: s3://b/ha\n")),
			want: []string{legacy + `[kubernetes.cluster-id]: Invalid value: "Orders_1": "Orders_1" is not a valid cluster-id: ` +
				`use lower-case letters, digits and '-', starting with a letter and ending with a letter or digit`}},
		"HA without a cluster-id under a storageDir template: the cluster-id is the one thing to add": {cm: cm("flink-config", nil,
			conf("high-availability.type: kubernetes\n")),
			want: []string{legacy + clusterIDOneThing}},
		"HA without a cluster-id and no template: both are required": {cm: cm("flink-config", nil, conf("high-availability.type: kubernetes\n")),
			policy: "-", want: []string{legacy + storageDirRequired, legacy + clusterIDRequired}},
		"a local storageDir is admitted with a warning": {cm: cm("flink-config", nil, conf(haOn+"high-availability.storageDir: file:///mnt/ha\n")),
			want: []string{`warn: ` + legacy + `[high-availability.storageDir]: storageDir "file:///mnt/ha" is local: HA works only if every ` +
				`JobManager mounts it from one shared volume`}},
		"a storageDir without a scheme is denied naming its line": {cm: cm("flink-config", nil, conf(haOn+"high-availability.storageDir: /mnt/ha\n")),
			want: []string{legacy + `[high-availability.storageDir]: Invalid value: "/mnt/ha": line 3: "/mnt/ha" has no scheme, so Flink would ` +
				`write to each JobManager's local disk; use a URI like s3://<bucket>/flink/ha`}},
		"zookeeper is denied with the fix": {cm: cm("flink-config", nil, conf("kubernetes.cluster-id: zk\nhigh-availability.type: zookeeper\n")),
			want: []string{legacy + `[high-availability.type]: Invalid value: "zookeeper": this cluster's policy requires Kubernetes HA: set ` +
				`high-availability.type: kubernetes (ZooKeeper state is not migrated), or annotate flink-ha-webhook/ha: "off"`}},
		"config.yaml cannot hold high-availability beside its storageDir": {cm: cm("flink-config", nil, map[string]string{
			"config.yaml": "kubernetes.cluster-id: orders\nhigh-availability: kubernetes\nhigh-availability.storageDir: s3://b/ha\n"}),
			want: []string{standard + `[high-availability]: Invalid value: "kubernetes": high-availability is a value and the prefix of ` +
				`high-availability.storageDir (line 3), which nested YAML cannot hold: rename high-availability to high-availability.type`}},
		"flink-conf.yaml may hold high-availability beside its storageDir": {cm: cm("flink-config", nil,
			conf("kubernetes.cluster-id: orders\nhigh-availability: kubernetes\nhigh-availability.storageDir: s3://b/ha\n")),
			want: []string{"warn: " + legacy + `[high-availability]: Flink 1.15 takes "kubernetes" for the class name of an HA factory and ` +
				`fails to start; write org.apache.flink.kubernetes.highavailability.KubernetesHaServicesFactory`}},
		"a config.yaml that does not parse is denied naming the line": {cm: cm("flink-config", nil, map[string]string{"config.yaml": "a: [\n"}),
			want: []string{standard + ": Invalid value: line 1: invalid YAML: did not find expected node content"}},
		"lines Flink skips are warned about": {cm: cm("flink-config", nil, conf(haOn+"high-availability.storageDir: s3://b/ha\nnot a setting\n")),
			want: []string{"warn: " + legacy + `: line 4: Flink skips "not a setting": it has no ": " between key and value`}},
		"two spellings of the HA mode that disagree are denied": {cm: cm("flink-config", nil,
			conf(haOn+"high-availability: zookeeper\nhigh-availability.storageDir: s3://b/ha\n")),
			want: []string{legacy + `[high-availability]: Invalid value: "zookeeper": high-availability is "zookeeper" at ` + legacy +
				` line 3 but high-availability.type is "kubernetes" at ` + legacy + ` line 2; Flink uses high-availability.type: remove high-availability`}},
		"two spellings of an option that is not HA's are no HA problem": {cm: cm("flink-config", nil,
			conf(haOn+"high-availability.storageDir: s3://b/ha\nhigh-availability.jobmanager.port: 6123\nrecovery.jobmanager.port: 6124\n"))},
		"standby JobManagers without HA are denied": {cm: cm("flink-config", map[string]string{}, conf("kubernetes.cluster-id: orders\nkubernetes.jobmanager.replicas: 2\n")),
			policy: "mode: opt-in\n",
			want: []string{legacy + `[kubernetes.jobmanager.replicas]: Invalid value: 2: more than one JobManager needs HA for leader election: set high-availability: ` +
				`org.apache.flink.kubernetes.highavailability.KubernetesHaServicesFactory or use 1 replica`}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := policy.Default()
			if tc.policy != "-" {
				p = testPolicy(t, tc.policy)
			}
			assert.Equal(t, tc.want, said(ConfigMap(tc.cm, p)))
		})
	}
}

func TestAccounts(t *testing.T) {
	t.Parallel()
	p := testPolicy(t, "")
	native := workloadCase{labels: map[string]string{"component": "jobmanager", "type": "flink-native-kubernetes"}, image: "flink:1.18",
		args: []string{"bash", "-c", "kubernetes-jobmanager.sh kubernetes-session"}}
	meta, tpl := native.objects()
	tpl.Spec.ServiceAccountName = "flink-native"
	a, ok := WorkloadAccount(meta, tpl, p)
	require.True(t, ok, "a native JobManager under an account of the user's choosing is checked")
	assert.Equal(t, Account{Namespace: "team", Name: "flink-native", Path: field.NewPath("spec", "template", "spec", "serviceAccountName"),
		Native: true, Flink: flinkconf.Exactly(flinkconf.V1_18)}, a)

	tpl.Spec.ServiceAccountName = p.ServiceAccount
	_, ok = WorkloadAccount(meta, tpl, p)
	assert.False(t, ok, "the policy's own account is the webhook's to bind")

	fd := func(mode string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": "orders", "namespace": "team"},
			"spec": map[string]any{"flinkVersion": "v2_1", "serviceAccount": "flink", "mode": mode}}}
	}
	assert.Equal(t, []Account{{Namespace: "team", Name: "flink", Path: field.NewPath("spec", "serviceAccount"), Native: true,
		Flink: flinkconf.Exactly(flinkconf.V2_1)}}, FlinkDeploymentAccounts(fd("native"), p), "the operator's default mode is native: the account makes TaskManager pods")
	assert.Equal(t, []Account{{Namespace: "team", Name: "flink", Path: field.NewPath("spec", "serviceAccount"),
		Flink: flinkconf.Exactly(flinkconf.V2_1)}}, FlinkDeploymentAccounts(fd("standalone"), p), "in standalone mode the operator makes the TaskManagers")
}

// TestAccountsNotChecked names the objects whose account the webhook does
// not ask the API server about.
func TestAccountsNotChecked(t *testing.T) {
	t.Parallel()
	off := map[string]string{policy.AnnotationHA: "off"}
	workload := func(ns, account string, annotations map[string]string) func(*policy.Policy) bool {
		return func(p *policy.Policy) bool {
			meta, tpl := workloadCase{annotations: annotations, args: []string{"jobmanager"}}.objects()
			meta.Namespace, tpl.Spec.ServiceAccountName = ns, account
			_, ok := WorkloadAccount(meta, tpl, p)
			return ok
		}
	}
	flinkDeployment := func(ns, account string, annotations map[string]string) func(*policy.Policy) bool {
		return func(p *policy.Policy) bool {
			u := &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": "orders", "namespace": ns},
				"spec": map[string]any{"flinkVersion": "v1_20", "serviceAccount": account}}}
			u.SetAnnotations(annotations)
			return len(FlinkDeploymentAccounts(u, p)) > 0
		}
	}
	cases := map[string]struct {
		check  func(*policy.Policy) bool
		policy string
	}{
		"a JobManager in an exempt namespace":          {check: workload("team", "flink", nil), policy: "exemptNamespaces: [team]\n"},
		"a JobManager under no account":                {check: workload("team", "", nil)},
		"a JobManager under the default account":       {check: workload("team", "default", nil)},
		"a JobManager under the policy's own account":  {check: workload("team", "flink-ha", nil)},
		"an opted-out JobManager":                      {check: workload("team", "flink", off)},
		"opt-in: a JobManager without HA":              {check: workload("team", "flink", nil), policy: "mode: opt-in\n"},
		"a FlinkDeployment in an exempt namespace":     {check: flinkDeployment("team", "flink", nil), policy: "exemptNamespaces: [team]\n"},
		"a FlinkDeployment under the default account":  {check: flinkDeployment("team", "default", nil)},
		"a FlinkDeployment under the policy's account": {check: flinkDeployment("team", "flink-ha", nil)},
		"an opted-out FlinkDeployment":                 {check: flinkDeployment("team", "flink", off)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			assert.False(t, tc.check(testPolicy(t, tc.policy)))
		})
	}
	assert.True(t, workload("team", "flink", nil)(testPolicy(t, "")), "the same JobManager under an account of the user's choosing is checked")
	assert.True(t, flinkDeployment("team", "flink", nil)(testPolicy(t, "")), "the same FlinkDeployment under an account of the user's choosing is checked")
}

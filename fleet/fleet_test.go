package fleet

import (
	"testing"

	"github.com/stretchr/testify/assert"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
)

func conf(ns, name, text string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string]string{"flink-conf.yaml": text}}
}

func jobManager(ns, name, configMap, image string, labels map[string]string, args ...string) *appsv1.Deployment {
	if labels == nil {
		labels = map[string]string{"component": "jobmanager"}
	}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels}}
	d.Spec.Template.Labels = labels
	c := corev1.Container{Name: "jobmanager", Image: image, Args: append([]string{"jobmanager"}, args...)}
	if configMap != "" {
		c.VolumeMounts = []corev1.VolumeMount{{Name: "conf", MountPath: "/opt/flink/conf"}}
		d.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "conf", VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: configMap}}}}}
	}
	d.Spec.Template.Spec.Containers = []corev1.Container{c}
	return d
}

func flinkDeployment(ns, name, version string, fc map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "flink.apache.org/v1beta1", "kind": "FlinkDeployment",
		"metadata": map[string]any{"namespace": ns, "name": name},
		"spec":     map[string]any{"flinkVersion": version, "serviceAccount": "flink", "flinkConfiguration": fc}}}
}

const haConf = "kubernetes.cluster-id: orders\nhigh-availability.type: kubernetes\nhigh-availability.storageDir: s3://b/ha\n"

// identifyCase is an object and the identity read from it.
type identifyCase struct {
	obj  metav1.Object
	want Identity
	ok   bool
}

// identifyCases are TestIdentify's, with the ConfigMaps beside them.
func identifyCases() (map[string]identifyCase, ConfigMaps) {
	cms := map[string]*corev1.ConfigMap{"orders-conf": conf("a", "orders-conf", haConf)}
	lookup := func(name string) *corev1.ConfigMap { return cms[name] }
	return map[string]identifyCase{
		"a standalone configuration without high-availability.cluster-id shares /default": {
			obj: cms["orders-conf"], ok: true,
			want: Identity{Key: "a/ConfigMap/orders-conf", Object: "ConfigMap/orders-conf", Namespace: "a", ClusterID: "orders", Mode: Standalone,
				HA: HAOn, StorageDir: "s3://b/ha", StoragePath: "s3://b/ha/default", Versions: flinkconf.Supported},
		},
		"a JobManager reads the ConfigMap it mounts and its image's version": {
			obj: jobManager("a", "orders-jm", "orders-conf", "flink:1.18.1", nil), ok: true,
			want: Identity{Key: "a/ConfigMap/orders-conf", Object: "Deployment/orders-jm", Namespace: "a", ClusterID: "orders", Mode: Standalone,
				HA: HAOn, StorageDir: "s3://b/ha", StoragePath: "s3://b/ha/default", Versions: flinkconf.Exactly(flinkconf.V1_18),
				Account: "default", JobManager: true},
		},
		"-D arguments override the mounted file, and high-availability.cluster-id moves the path": {
			obj: jobManager("a", "orders-jm", "orders-conf", "flink", nil, "-D", "high-availability.cluster-id=/orders"), ok: true,
			want: Identity{Key: "a/ConfigMap/orders-conf", Object: "Deployment/orders-jm", Namespace: "a", ClusterID: "orders", Mode: Standalone,
				HA: HAOn, StorageDir: "s3://b/ha", StoragePath: "s3://b/ha/orders", Versions: flinkconf.Supported, Account: "default", JobManager: true},
		},
		"HA keys that disagree between the file and the arguments are conflicting": {
			obj: jobManager("a", "orders-jm", "orders-conf", "flink", nil, "-D", "high-availability.storageDir=s3://other"), ok: true,
			want: Identity{Key: "a/ConfigMap/orders-conf", Object: "Deployment/orders-jm", Namespace: "a", ClusterID: "orders", Mode: Standalone,
				HA: HAConflicting, StorageDir: "s3://other", StoragePath: "s3://other/default", Versions: flinkconf.Supported, Account: "default", JobManager: true},
		},
		"a native JobManager is keyed by its cluster-id label and keeps its HA under it": {
			obj: jobManager("a", "native", "flink-config-native", "flink:1.20", map[string]string{"app": "native", "component": "jobmanager", "type": "flink-native-kubernetes"}),
			ok:  true,
			want: Identity{Key: "a/native/native", Object: "Deployment/native", Namespace: "a", ClusterID: "native", Mode: Native,
				HA: HAOff, Versions: flinkconf.Exactly(flinkconf.V1_20), Account: "default", JobManager: true, Native: true},
		},
		"the operator's standalone JobManager is its FlinkDeployment's cluster": {
			obj: jobManager("a", "orders", "flink-config-orders", "flink:1.20", map[string]string{"app": "orders", "component": "jobmanager", "type": "flink-standalone-kubernetes"}),
			ok:  true,
			want: Identity{Key: "a/native/orders", Object: "Deployment/orders", Namespace: "a", ClusterID: "orders", Mode: Standalone,
				HA: HAOff, Versions: flinkconf.Exactly(flinkconf.V1_20), Account: "default", JobManager: true},
		},
		"a FlinkDeployment's cluster-id is its name, and so is its HA cluster-id": {
			obj: flinkDeployment("a", "fd", "v1_19", map[string]any{"high-availability.type": "kubernetes", "high-availability.storageDir": "s3://b/ha/"}), ok: true,
			want: Identity{Key: "a/native/fd", Object: "FlinkDeployment/fd", Namespace: "a", ClusterID: "fd", Mode: Operator,
				HA: HAOn, StorageDir: "s3://b/ha/", StoragePath: "s3://b/ha/fd", Versions: flinkconf.Exactly(flinkconf.V1_19), Account: "flink", JobManager: true,
				Native: true},
		},
		"a FlinkDeployment's JobManager runs under its own key's account where flinkConfiguration sets one": {
			obj: flinkDeployment("a", "fd", "v1_19", map[string]any{"high-availability.type": "kubernetes", "high-availability.storageDir": "s3://b/ha/",
				"kubernetes.jobmanager.service-account": "jm", "kubernetes.taskmanager.service-account": "tm"}), ok: true,
			want: Identity{Key: "a/native/fd", Object: "FlinkDeployment/fd", Namespace: "a", ClusterID: "fd", Mode: Operator,
				HA: HAOn, StorageDir: "s3://b/ha/", StoragePath: "s3://b/ha/fd", Versions: flinkconf.Exactly(flinkconf.V1_19), Account: "jm", JobManager: true,
				Native: true},
		},
		"a FlinkDeployment in standalone mode runs no native resource manager, on the host network or not": {
			obj: func() metav1.Object {
				u := flinkDeployment("a", "fd", "v1_19", map[string]any{"high-availability.type": "kubernetes", "high-availability.storageDir": "s3://b/ha/",
					"kubernetes.hostnetwork.enabled": "true"})
				u.Object["spec"].(map[string]any)["mode"] = "standalone"
				return u
			}(), ok: true,
			want: Identity{Key: "a/native/fd", Object: "FlinkDeployment/fd", Namespace: "a", ClusterID: "fd", Mode: Operator,
				HA: HAOn, StorageDir: "s3://b/ha/", StoragePath: "s3://b/ha/fd", Versions: flinkconf.Exactly(flinkconf.V1_19), Account: "flink", JobManager: true},
		},
		"a native FlinkDeployment on the host network also updates its Service": {
			obj: flinkDeployment("a", "fd", "v1_19", map[string]any{"high-availability.type": "kubernetes", "high-availability.storageDir": "s3://b/ha/",
				"kubernetes.hostnetwork.enabled": "true"}), ok: true,
			want: Identity{Key: "a/native/fd", Object: "FlinkDeployment/fd", Namespace: "a", ClusterID: "fd", Mode: Operator,
				HA: HAOn, StorageDir: "s3://b/ha/", StoragePath: "s3://b/ha/fd", Versions: flinkconf.Exactly(flinkconf.V1_19), Account: "flink", JobManager: true,
				Native: true, HostNetwork: true},
		},
		"a TaskManager defines no cluster": {
			obj: &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "tm"}, Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "tm", Image: "flink", Args: []string{"taskmanager"}}}}}}},
		},
		"an HA ConfigMap defines no cluster": {obj: conf("a", "orders-cluster-config-map", "")},
		"a ConfigMap that is not Flink's":    {obj: &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x"}, Data: map[string]string{"a": "b"}}},
		"the operator's standalone flink-config ConfigMap is its FlinkDeployment's cluster": {
			obj: &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "flink-config-orders", Labels: map[string]string{"app": "orders", "type": "flink-standalone-kubernetes"}},
				Data: map[string]string{"flink-conf.yaml": "kubernetes.cluster-id: orders\nhigh-availability.type: kubernetes\nhigh-availability.storageDir: s3://b/ha\nhigh-availability.cluster-id: orders\n"}},
			ok: true,
			want: Identity{Key: "a/native/orders", Object: "ConfigMap/flink-config-orders", Namespace: "a", ClusterID: "orders", Mode: Standalone,
				HA: HAOn, StorageDir: "s3://b/ha", StoragePath: "s3://b/ha/orders", Versions: flinkconf.Range{Min: flinkconf.V1_15, Max: flinkconf.V2_1}},
		},
	}, lookup
}

func TestIdentify(t *testing.T) {
	t.Parallel()
	cases, lookup := identifyCases()
	for name, tc := range cases {
		got, ok := Identify(tc.obj, lookup)
		assert.Equal(t, tc.ok, ok, name)
		assert.Equal(t, tc.want, got, name)
	}
}

func TestCollisions(t *testing.T) {
	t.Parallel()
	ids := func(objs ...metav1.Object) []Identity { return IdentifyAll(objs) }
	ha := func(cid, dir string) string {
		return "kubernetes.cluster-id: " + cid + "\nhigh-availability.type: kubernetes\nhigh-availability.storageDir: " + dir + "\nhigh-availability.cluster-id: " + cid + "\n"
	}
	cases := map[string]struct {
		objs []metav1.Object
		want []Collision
	}{
		"a ConfigMap and the JobManager mounting it are one cluster": {
			objs: []metav1.Object{conf("a", "c", ha("x", "s3://b")), jobManager("a", "jm", "c", "flink", nil)},
		},
		"a FlinkDeployment and the native cluster the operator runs for it are one cluster": {
			objs: []metav1.Object{flinkDeployment("a", "fd", "v1_20", nil),
				jobManager("a", "fd", "", "flink", map[string]string{"app": "fd", "component": "jobmanager", "type": "flink-native-kubernetes"})},
		},
		"one cluster-id in two namespaces, each with its own storage path, is fine": {
			objs: []metav1.Object{conf("a", "c", ha("x", "s3://b/a")), conf("b", "c", ha("x", "s3://b/b"))},
		},
		"two configurations with one cluster-id in a namespace collide": {
			objs: []metav1.Object{conf("a", "c1", ha("x", "s3://b/1")), conf("a", "c2", ha("x", "s3://b/2"))},
			want: []Collision{{Kind: SameClusterID, Value: "x", First: Ref{"a", "ConfigMap/c1"}, Second: Ref{"a", "ConfigMap/c2"}}},
		},
		"a standalone cluster named like a FlinkDeployment collides with it": {
			objs: []metav1.Object{flinkDeployment("a", "x", "v1_20", nil), conf("a", "c", ha("x", "s3://b"))},
			want: []Collision{{Kind: SameClusterID, Value: "x", First: Ref{"a", "ConfigMap/c"}, Second: Ref{"a", "FlinkDeployment/x"}}},
		},
		"standalone clusters without high-availability.cluster-id share /default across namespaces": {
			objs: []metav1.Object{
				conf("a", "c", "kubernetes.cluster-id: one\nhigh-availability.type: kubernetes\nhigh-availability.storageDir: s3://b/ha\n"),
				conf("b", "c", "kubernetes.cluster-id: two\nhigh-availability.type: kubernetes\nhigh-availability.storageDir: s3://b/ha/\n"),
			},
			want: []Collision{{Kind: SameStoragePath, Value: "s3://b/ha/default", First: Ref{"a", "ConfigMap/c"}, Second: Ref{"b", "ConfigMap/c"}}},
		},
		"clusters without HA share nothing": {
			objs: []metav1.Object{conf("a", "c", "jobmanager.rpc.address: x\n"), conf("b", "c", "jobmanager.rpc.address: x\n")},
		},
	}
	for name, tc := range cases {
		assert.Equal(t, tc.want, Collisions(ids(tc.objs...)), name)
	}
}

func TestCollisionMessageNamesBoth(t *testing.T) {
	t.Parallel()
	c := Collision{Kind: SameClusterID, Value: "x", First: Ref{"a", "ConfigMap/c1"}, Second: Ref{"a", "FlinkDeployment/x"}}
	assert.Equal(t, `FlinkDeployment/x in namespace a and ConfigMap/c1 in namespace a both use cluster-id "x": two clusters with one `+
		`cluster-id in a namespace fight over leadership and recover each other's jobs; give one of them another kubernetes.cluster-id `+
		`(a FlinkDeployment's is its name)`, c.Message())
}

// TestIdentifyReadsAsTheRulesDo: the identity comes from the configurations
// the webhook's rules read (package cluster), so it follows their reading of
// each release line: which file a version reads, FLINK_PROPERTIES by the old
// or the new entrypoint's rules, which spelling of the HA mode a version
// honours, and which layer wins.
func TestIdentifyReadsAsTheRulesDo(t *testing.T) {
	t.Parallel()
	cases, lookup := readingCases()
	for name, tc := range cases {
		got, ok := Identify(tc.obj, lookup)
		assert.True(t, ok, name)
		assert.Equal(t, tc.want, got, name)
	}

	client := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "client"}, Data: map[string]string{"flink-conf.yaml": "rest.address: jm\nrest.port: 8081\n"}}
	_, ok := Identify(client, lookup)
	assert.False(t, ok, "a client's settings define no cluster")
}

// readingCases are TestIdentifyReadsAsTheRulesDo's, with the ConfigMaps
// beside them: each reads an identity.
func readingCases() (map[string]identifyCase, ConfigMaps) {
	both := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "both"}, Data: map[string]string{
		"flink-conf.yaml": "kubernetes.cluster-id: orders\nhigh-availability.type: kubernetes\n",
		"config.yaml":     "kubernetes:\n  cluster-id: orders\nhigh-availability:\n  type: kubernetes\n  storageDir: s3://b/ha\n",
	}}
	nested := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "nested"}, Data: map[string]string{
		"config.yaml": "kubernetes.cluster-id: orders\nhigh-availability:\n  type: kubernetes\n  storageDir: s3://b/ha\n  cluster-id: orders\n",
	}}
	cms := map[string]*corev1.ConfigMap{"orders-conf": conf("a", "orders-conf", haConf), "both": both}
	lookup := func(name string) *corev1.ConfigMap { return cms[name] }
	withEnv := func(d *appsv1.Deployment, env string) *appsv1.Deployment {
		d.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "FLINK_PROPERTIES", Value: env}}
		return d
	}
	jm := func(image string) Identity {
		v, _ := flinkconf.ImageVersion(image)
		return Identity{Key: "a/Deployment/jm", Object: "Deployment/jm", Namespace: "a", Mode: Standalone, Versions: flinkconf.Exactly(v),
			Account: "default", JobManager: true}
	}
	mounting := func(cm, image string) Identity {
		id := jm(image)
		id.Key = "a/ConfigMap/" + cm
		return id
	}
	with := func(id Identity, f func(*Identity)) Identity { f(&id); return id }
	fd := func(version string) Identity {
		v, _ := flinkconf.OperatorVersion(version)
		return Identity{Key: "a/native/fd", Object: "FlinkDeployment/fd", Namespace: "a", ClusterID: "fd", Mode: Operator,
			Versions: flinkconf.Exactly(v), Account: "flink", JobManager: true, Native: true}
	}
	alone := func(d *appsv1.Deployment, file string) *appsv1.Deployment {
		m := &d.Spec.Template.Spec.Containers[0].VolumeMounts[0]
		m.MountPath, m.SubPath = m.MountPath+"/"+file, file
		return d
	}
	mountedHA := func(image string) Identity {
		return with(mounting("orders-conf", image), func(id *Identity) {
			id.ClusterID, id.HA, id.StorageDir, id.StoragePath = "orders", HAOn, "s3://b/ha", "s3://b/ha/default"
		})
	}
	return map[string]identifyCase{
		"FLINK_PROPERTIES over the mounted ConfigMap is ignored: the file's HA keys stand": {
			obj:  withEnv(jobManager("a", "jm", "orders-conf", "flink:1.18", nil), "high-availability.storageDir: s3://other\n"),
			want: mountedHA("flink:1.18"),
		},
		"flink-conf.yaml mounted alone is the cluster's configuration, and FLINK_PROPERTIES is ignored over it": {
			obj:  withEnv(alone(jobManager("a", "jm", "orders-conf", "flink:1.20", nil), "flink-conf.yaml"), "high-availability.storageDir: s3://other\n"),
			want: mountedHA("flink:1.20"),
		},
		"Flink 1.16 reads no high-availability.type: HA is off and keeps no storage path": {
			obj: jobManager("a", "jm", "orders-conf", "flink:1.16", nil),
			want: with(mounting("orders-conf", "flink:1.16"), func(id *Identity) {
				id.ClusterID, id.HA, id.StorageDir = "orders", HAOff, "s3://b/ha"
			}),
		},
		"Flink 1.20 reads flink-conf.yaml alone where both files are: no storageDir": {
			obj:  jobManager("a", "jm", "both", "flink:1.20", nil),
			want: with(mounting("both", "flink:1.20"), func(id *Identity) { id.ClusterID, id.HA = "orders", HAOn }),
		},
		"Flink 2 reads config.yaml alone": {
			obj: jobManager("a", "jm", "both", "flink:2.0", nil),
			want: with(mounting("both", "flink:2.0"), func(id *Identity) {
				id.ClusterID, id.HA, id.StorageDir, id.StoragePath = "orders", HAOn, "s3://b/ha", "s3://b/ha/default"
			}),
		},
		"Flink 2 reads no flink-conf.yaml: only the container's own arguments": {
			obj:  jobManager("a", "jm", "orders-conf", "flink:2.1", nil, "-D", "kubernetes.cluster-id=jm"),
			want: with(mounting("orders-conf", "flink:2.1"), func(id *Identity) { id.ClusterID, id.HA = "jm", HAOff }),
		},
		"files that disagree, for a version not known, are conflicting; the newest line's file gives the values": {
			obj: both,
			want: Identity{Key: "a/ConfigMap/both", Object: "ConfigMap/both", Namespace: "a", ClusterID: "orders", Mode: Standalone,
				HA: HAConflicting, StorageDir: "s3://b/ha", StoragePath: "s3://b/ha/default", Versions: flinkconf.Supported},
		},
		"nested and flat keys of config.yaml are one configuration": {
			obj: nested,
			want: Identity{Key: "a/ConfigMap/nested", Object: "ConfigMap/nested", Namespace: "a", ClusterID: "orders", Mode: Standalone,
				HA: HAOn, StorageDir: "s3://b/ha", StoragePath: "s3://b/ha/orders", Versions: flinkconf.Range{Min: flinkconf.V1_19, Max: flinkconf.V2_1}},
		},
		"a 1.19 image reads FLINK_PROPERTIES without blanks: key:value is set": {
			obj: withEnv(jobManager("a", "jm", "", "flink:1.19", nil), "kubernetes.cluster-id:orders\nhigh-availability.type: kubernetes\nhigh-availability.storageDir: s3://b/ha\n"),
			want: with(jm("flink:1.19"), func(id *Identity) {
				id.ClusterID, id.HA, id.StorageDir, id.StoragePath = "orders", HAOn, "s3://b/ha", "s3://b/ha/default"
			}),
		},
		"a 1.18 image reads FLINK_PROPERTIES by the legacy rules: key:value is skipped": {
			obj: withEnv(jobManager("a", "jm", "", "flink:1.18", nil), "kubernetes.cluster-id:orders\nhigh-availability.type: kubernetes\nhigh-availability.storageDir: s3://b/ha\n"),
			want: with(jm("flink:1.18"), func(id *Identity) {
				id.HA, id.StorageDir, id.StoragePath = HAOn, "s3://b/ha", "s3://b/ha/default"
			}),
		},
		"a 1.19 image keeps a # in FLINK_PROPERTIES: the storage path is another": {
			obj: withEnv(jobManager("a", "jm", "", "flink:1.19", nil), "high-availability.type: kubernetes\nhigh-availability.storageDir: s3://b/ha # shared\n"),
			want: with(jm("flink:1.19"), func(id *Identity) {
				id.HA, id.StorageDir, id.StoragePath = HAOn, "s3://b/ha#shared", "s3://b/ha#shared/default"
			}),
		},
		"an image of unknown version whose FLINK_PROPERTIES the two rule sets read differently is conflicting": {
			obj: withEnv(jobManager("a", "jm", "", "example/job:1", nil), "kubernetes.cluster-id:orders\nhigh-availability.type: kubernetes\nhigh-availability.storageDir: s3://b/ha\n"),
			want: Identity{Key: "a/Deployment/jm", Object: "Deployment/jm", Namespace: "a", ClusterID: "orders", Mode: Standalone,
				HA: HAConflicting, StorageDir: "s3://b/ha", StoragePath: "s3://b/ha/default", Versions: flinkconf.Supported, Account: "default", JobManager: true},
		},
		"a value in FLINK_PROPERTIES and a -D argument: the argument wins, and HA is conflicting": {
			obj: withEnv(jobManager("a", "jm", "", "flink:1.20", nil, "-D", "high-availability.storageDir=s3://b/args"),
				"kubernetes.cluster-id: orders\nhigh-availability.type: kubernetes\nhigh-availability.storageDir: s3://b/env\n"),
			want: with(jm("flink:1.20"), func(id *Identity) {
				id.ClusterID, id.HA, id.StorageDir, id.StoragePath = "orders", HAConflicting, "s3://b/args", "s3://b/args/default"
			}),
		},
		"a FlinkDeployment with both spellings of the storageDir: the current key wins, and HA is conflicting": {
			obj: flinkDeployment("a", "fd", "v1_20", map[string]any{"high-availability.type": "kubernetes",
				"high-availability.storageDir": "s3://b/new", "high-availability.zookeeper.storageDir": "s3://b/old"}),
			want: with(fd("v1_20"), func(id *Identity) {
				id.HA, id.StorageDir, id.StoragePath = HAConflicting, "s3://b/new", "s3://b/new/fd"
			}),
		},
		"a FlinkDeployment of 1.16 with high-availability.type runs no HA": {
			obj:  flinkDeployment("a", "fd", "v1_16", map[string]any{"high-availability.type": "kubernetes", "high-availability.storageDir": "s3://b/ha"}),
			want: with(fd("v1_16"), func(id *Identity) { id.HA, id.StorageDir = HAOff, "s3://b/ha" }),
		},
		"Flink 1.15 takes the short value for a factory class": {
			obj:  flinkDeployment("a", "fd", "v1_15", map[string]any{"high-availability": "kubernetes", "high-availability.storageDir": "s3://b/ha"}),
			want: with(fd("v1_15"), func(id *Identity) { id.HA, id.StorageDir, id.StoragePath = HACustom, "s3://b/ha", "s3://b/ha/fd" }),
		},
		"a nested flinkConfiguration reads as its flat keys": {
			obj:  flinkDeployment("a", "fd", "v2_0", map[string]any{"high-availability": map[string]any{"type": "kubernetes", "storageDir": "s3://b/ha"}}),
			want: with(fd("v2_0"), func(id *Identity) { id.HA, id.StorageDir, id.StoragePath = HAOn, "s3://b/ha", "s3://b/ha/fd" }),
		},
		"a native flink-config ConfigMap is its cluster's": {
			obj: &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "flink-config-orders", Labels: map[string]string{"type": "flink-native-kubernetes"}},
				Data: map[string]string{"config.yaml": "kubernetes.cluster-id: orders\nhigh-availability.type: kubernetes\nhigh-availability.storageDir: s3://b/ha\n"}},
			want: Identity{Key: "a/native/orders", Object: "ConfigMap/flink-config-orders", Namespace: "a", ClusterID: "orders", Mode: Native,
				HA: HAOn, StorageDir: "s3://b/ha", StoragePath: "s3://b/ha/orders", Versions: flinkconf.Range{Min: flinkconf.V1_19, Max: flinkconf.V2_1}},
		},
	}, lookup
}

// BenchmarkIdentify reads the identity of each kind of object, as the
// mutating webhook does to record it and the validating one to check it.
func BenchmarkIdentify(b *testing.B) {
	for _, c := range benchObjects() {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := Identify(c.obj, nil); !ok {
					b.Fatal("no identity")
				}
			}
		})
	}
}

// benchObject is an object of a benchmark, named by its kind.
type benchObject struct {
	name string
	obj  metav1.Object
}

// benchObjects are one object of each kind Identify reads: a ConfigMap, a
// JobManager Deployment with FLINK_PROPERTIES and an image of unknown
// version, a FlinkDeployment.
func benchObjects() []benchObject {
	props := "kubernetes.cluster-id: orders\nhigh-availability.type: kubernetes\nhigh-availability.storageDir: s3://b/ha\nparallelism.default: 4\n"
	env := jobManager("a", "jm", "", "example/job:1", nil, "-D", "taskmanager.numberOfTaskSlots=2")
	env.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "FLINK_PROPERTIES", Value: props}}
	return []benchObject{
		{"ConfigMap", conf("a", "orders-conf", haConf)},
		{"Deployment", env},
		{"FlinkDeployment", flinkDeployment("a", "fd", "v1_20", map[string]any{"high-availability.type": "kubernetes", "high-availability.storageDir": "s3://b/ha"})},
	}
}

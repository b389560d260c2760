package recognise

import (
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func template(labels map[string]string, containers ...corev1.Container) *corev1.PodTemplateSpec {
	return &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: containers}}
}

func TestPodTemplate(t *testing.T) {
	t.Parallel()
	jm := map[string]string{"app": "flink", "component": "jobmanager"}
	confVolume := corev1.Volume{Name: "flink-config-volume", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: "flink-config"}}}}
	mounted := template(jm, corev1.Container{Name: "jobmanager", Image: "flink:1.20", Args: []string{"jobmanager"},
		VolumeMounts: []corev1.VolumeMount{{Name: "flink-config-volume", MountPath: "/opt/flink/conf"}}})
	mounted.Spec.Volumes = []corev1.Volume{confVolume}

	cases := map[string]struct {
		objectLabels map[string]string
		tpl          *corev1.PodTemplateSpec
		want         FlinkPod
		ok           bool
	}{
		"the docs' session JobManager": {
			tpl: mounted, ok: true, want: FlinkPod{Role: JobManager, ConfigMounted: true, Mount: ConfigMount{Path: "/opt/flink/conf", ConfigMap: "flink-config"}},
		},
		"an application JobManager found by its entrypoint alone": {
			tpl: template(nil, corev1.Container{Name: "sidecar", Image: "envoy"}, corev1.Container{Name: "main", Image: "registry.example/jobs/wordcount:2", Args: []string{"standalone-job", "--job-classname", "X"}}),
			ok:  true, want: FlinkPod{Role: JobManager, Container: 1, Application: true},
		},
		"a TaskManager": {
			tpl: template(map[string]string{"component": "taskmanager"}, corev1.Container{Name: "taskmanager", Image: "flink:2.1", Args: []string{"taskmanager"}}),
			ok:  true, want: FlinkPod{Role: TaskManager},
		},
		"a native JobManager Deployment made by Flink": {
			objectLabels: map[string]string{"app": "orders", "component": "jobmanager", "type": "flink-native-kubernetes"},
			tpl:          template(map[string]string{"component": "jobmanager"}, corev1.Container{Name: "flink-main-container", Image: "flink:1.20", Args: []string{"bash", "-c", "kubernetes-jobmanager.sh kubernetes-session"}}),
			ok:           true, want: FlinkPod{Role: JobManager, Native: true},
		},
		"a labelled container with a Flink image from a registry with a port": {
			tpl: template(jm, corev1.Container{Name: "jm", Image: "registry:5000/apache/flink:1.20@sha256:abc"}),
			ok:  true, want: FlinkPod{Role: JobManager},
		},
		"a labelled pod without anything Flink about it": {
			tpl: template(jm, corev1.Container{Name: "web", Image: "nginx:1.27"}),
		},
		"an unrelated Deployment": {
			tpl: template(map[string]string{"app": "web"}, corev1.Container{Name: "web", Image: "nginx", Args: []string{"--port", "80"}}),
		},
		"a registry host named flink does not make nginx Flink": {
			tpl: template(jm, corev1.Container{Name: "web", Image: "flink.registry:5000/nginx:1.27"}),
		},
	}
	for name, tc := range cases {
		got, ok := PodTemplate(tc.objectLabels, tc.tpl)
		assert.Equal(t, tc.ok, ok, name)
		assert.Equal(t, tc.want, got, name)
	}
}

// TestConfigMounted: a container whose conf directory, or configuration
// file by subPath, is a read-only mount reads its configuration from there
// as it is: the image's entrypoint cannot write FLINK_PROPERTIES into it.
// ConfigMap, Secret, downward API and projected volumes are always mounted
// read-only; any other volume when the mount says so. MountedConfigMap
// names the ConfigMap.
func TestConfigMounted(t *testing.T) {
	t.Parallel()
	cmSource := corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "flink-config"}}}
	projected := func(sources ...corev1.VolumeProjection) corev1.VolumeSource {
		return corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: sources}}
	}
	cmProjection := corev1.VolumeProjection{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "flink-config"}}}
	secretProjection := corev1.VolumeProjection{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "s3"}}}
	mapped := corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "flink-config"},
		Items: []corev1.KeyToPath{{Key: "flink-conf.yaml", Path: "conf.yaml"}}}}
	emptyDir := corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
	dir := func(path string) ConfigMount { return ConfigMount{Path: path, ConfigMap: "flink-config"} }
	cases := map[string]struct {
		mountPath, subPath string
		subPathExpr        string
		readOnly           bool
		source             corev1.VolumeSource
		volume             string // the volume's name; the mount's when empty
		want               *ConfigMount
	}{
		"a ConfigMap at /opt/flink/conf":        {mountPath: "/opt/flink/conf", source: cmSource, want: ptr(dir("/opt/flink/conf"))},
		"a ConfigMap at another conf directory": {mountPath: "/flink/conf/", source: cmSource, want: ptr(dir("/flink/conf/"))},
		"a projected volume with a ConfigMap":   {mountPath: "/opt/flink/conf", source: projected(secretProjection, cmProjection), want: ptr(dir("/opt/flink/conf"))},
		"a projected volume of secrets only is a mount of no ConfigMap": {mountPath: "/opt/flink/conf", source: projected(secretProjection),
			want: &ConfigMount{Path: "/opt/flink/conf"}},
		"a Secret at /opt/flink/conf is a mount of no ConfigMap": {mountPath: "/opt/flink/conf",
			source: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "conf"}}, want: &ConfigMount{Path: "/opt/flink/conf"}},
		"an emptyDir at /opt/flink/conf is writable: no mounted configuration": {mountPath: "/opt/flink/conf", source: emptyDir},
		"an emptyDir mounted readOnly is":                                      {mountPath: "/opt/flink/conf", readOnly: true, source: emptyDir, want: &ConfigMount{Path: "/opt/flink/conf"}},
		"a PVC the volume marks readOnly is": {mountPath: "/opt/flink/conf", want: &ConfigMount{Path: "/opt/flink/conf"},
			source: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "conf", ReadOnly: true}}},
		"a writable PVC is not": {mountPath: "/opt/flink/conf",
			source: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "conf"}}},
		"flink-conf.yaml mounted alone by subPath": {mountPath: "/opt/flink/conf/flink-conf.yaml", subPath: "flink-conf.yaml", source: cmSource,
			want: &ConfigMount{Path: "/opt/flink/conf/flink-conf.yaml", File: "flink-conf.yaml", ConfigMap: "flink-config", Key: "flink-conf.yaml"}},
		"config.yaml mounted alone by subPath": {mountPath: "/opt/flink/conf/config.yaml", subPath: "config.yaml", source: cmSource,
			want: &ConfigMount{Path: "/opt/flink/conf/config.yaml", File: "config.yaml", ConfigMap: "flink-config", Key: "config.yaml"}},
		"a file mounted alone from a key mapped to another path": {mountPath: "/opt/flink/conf/flink-conf.yaml", subPath: "conf.yaml", source: mapped,
			want: &ConfigMount{Path: "/opt/flink/conf/flink-conf.yaml", File: "flink-conf.yaml", ConfigMap: "flink-config", Key: "flink-conf.yaml"}},
		"a file mounted alone by subPathExpr, whose key is known only when the pod runs": {mountPath: "/opt/flink/conf/config.yaml",
			subPathExpr: "$(POD_NAME).yaml", source: cmSource,
			want: &ConfigMount{Path: "/opt/flink/conf/config.yaml", File: "config.yaml", ConfigMap: "flink-config"}},
		"another file mounted alone in conf is no configuration": {mountPath: "/opt/flink/conf/log4j-console.properties", subPath: "log4j-console.properties", source: cmSource},
		"flink-conf.yaml from a writable emptyDir is not":        {mountPath: "/opt/flink/conf/flink-conf.yaml", subPath: "flink-conf.yaml", source: emptyDir},
		"a ConfigMap elsewhere is not the configuration":         {mountPath: "/opt/flink/usrlib", source: cmSource},
		"a directory that only ends like conf is not":            {mountPath: "/opt/flink/myconf", source: cmSource},
		"a mount of a volume the pod does not have":              {mountPath: "/opt/flink/conf", source: cmSource, volume: "other"},
	}
	for name, tc := range cases {
		volume := tc.volume
		if volume == "" {
			volume = "conf"
		}
		tpl := template(map[string]string{"component": "jobmanager"}, corev1.Container{Name: "jobmanager", Image: "flink:1.20",
			VolumeMounts: []corev1.VolumeMount{{Name: "conf", MountPath: tc.mountPath, SubPath: tc.subPath, SubPathExpr: tc.subPathExpr, ReadOnly: tc.readOnly}}})
		tpl.Spec.Volumes = []corev1.Volume{{Name: volume, VolumeSource: tc.source}}
		pod, ok := PodTemplate(nil, tpl)
		assert.True(t, ok, name)
		assert.Equal(t, tc.want != nil, pod.ConfigMounted, name)
		want := ConfigMount{}
		if tc.want != nil {
			want = *tc.want
		}
		assert.Equal(t, want, pod.Mount, name)
		assert.Equal(t, want.ConfigMap, MountedConfigMap(tpl, &tpl.Spec.Containers[0]), name+": the name")
	}
}

func ptr[T any](v T) *T { return &v }

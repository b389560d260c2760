package mutate_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/flink-ha-webhook/flink-ha-webhook/mutate"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
)

// subject is one object a rule runs on: run applies the rule in place.
type subject struct {
	obj runtime.Object
	run func(*policy.Policy) mutate.Result
}

// workloadSubject is a Deployment of a JobManager whose FLINK_PROPERTIES
// are env.
func workloadSubject(ns, account string, annotations map[string]string, env []corev1.EnvVar, args ...string) subject {
	meta, tpl := jobManager("flink:1.20", args, env, false)
	tpl.Spec.ServiceAccountName = account
	meta.Namespace, meta.Annotations = ns, annotations
	d := &appsv1.Deployment{ObjectMeta: *meta, Spec: appsv1.DeploymentSpec{Template: *tpl}}
	return subject{obj: d, run: func(p *policy.Policy) mutate.Result { return mutate.Workload(&d.ObjectMeta, &d.Spec.Template, p) }}
}

func configMapSubject(ns, name string, annotations map[string]string, owned bool, data map[string]string) subject {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: annotations}, Data: data}
	if owned {
		cm.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "orders", UID: "5f0e2a11"}}
	}
	return subject{obj: cm, run: func(p *policy.Policy) mutate.Result { return mutate.ConfigMap(cm, p) }}
}

func flinkDeploymentSubject(ns string, annotations map[string]string, spec map[string]any) subject {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "flink.apache.org/v1beta1", "kind": "FlinkDeployment",
		"metadata": map[string]any{"name": "orders", "namespace": ns}}}
	if spec != nil {
		u.Object["spec"] = spec
	}
	if annotations != nil {
		u.SetAnnotations(annotations)
	}
	return subject{obj: u, run: func(p *policy.Policy) mutate.Result { return mutate.FlinkDeployment(u, p) }}
}

// deep is a configuration nested n levels deep.
func deep(n int) map[string]any {
	m := map[string]any{"type": "kubernetes"}
	for range n {
		m = map[string]any{"a": m}
	}
	return m
}

// TestWhereNothingMustChange names the branches that protect an object
// from the rules: each leaves the object exactly as it came, and says
// only what the case lists.
func TestWhereNothingMustChange(t *testing.T) {
	t.Parallel()
	off := map[string]string{policy.AnnotationHA: "off"}
	haData := map[string]string{"dispatcher-leader": "pekko.tcp://flink@10.0.0.7:6123/user/rpc/dispatcher_1", "counter": "3"}
	zk := "kubernetes.cluster-id: orders\nhigh-availability.type: zookeeper\nhigh-availability.zookeeper.quorum: zk:2181\n"
	custom := "kubernetes.cluster-id: orders\nhigh-availability.type: org.example.MyHaFactory\n"
	optIn := func(p *policy.Policy) { p.Mode = policy.ModeOptIn }
	cases := map[string]struct {
		subject subject
		policy  func(*policy.Policy)
		want    []string
	}{
		"an exempt namespace's JobManager keeps the default account and its arguments": {
			subject: workloadSubject("legacy", "default", nil, props("kubernetes.cluster-id: orders\n"), "jobmanager"),
		},
		"an exempt namespace's configuration gets no HA keys": {
			subject: configMapSubject("legacy", "flink-config", nil, false, map[string]string{"flink-conf.yaml": "kubernetes.cluster-id: orders\n"}),
		},
		"an exempt namespace's HA ConfigMap keeps its owner references": {
			subject: configMapSubject("legacy", "orders-cluster-config-map", nil, true, haData),
		},
		"an exempt namespace's FlinkDeployment keeps the default account and gets no HA keys": {
			subject: flinkDeploymentSubject("legacy", nil, map[string]any{"flinkVersion": "v1_20", "serviceAccount": "default"}),
		},
		"an opted-out HA ConfigMap keeps its owner references where the policy allows opting out": {
			subject: configMapSubject("team", "orders-cluster-config-map", off, true, haData),
		},
		"an HA ConfigMap without owner references is left as it is": {
			subject: configMapSubject("team", "orders-cluster-config-map", nil, false, haData),
		},
		"an opted-out configuration gets no HA keys": {
			subject: configMapSubject("team", "flink-config", off, false, map[string]string{"flink-conf.yaml": "kubernetes.cluster-id: orders\n"}),
		},
		"an opted-out JobManager keeps the default account and its arguments": {
			subject: workloadSubject("team", "default", off, props("kubernetes.cluster-id: orders\n"), "jobmanager"),
		},
		"an opted-out FlinkDeployment keeps the default account": {
			subject: flinkDeploymentSubject("team", off, map[string]any{"flinkVersion": "v1_20", "serviceAccount": "default"}),
		},
		"ZooKeeper HA in a ConfigMap is not switched": {
			subject: configMapSubject("team", "flink-config", nil, false, map[string]string{"flink-conf.yaml": zk}),
		},
		"ZooKeeper HA in config.yaml is not switched": {
			subject: configMapSubject("team", "flink-config", nil, false, map[string]string{"config.yaml": zk}),
		},
		"ZooKeeper HA in a FlinkDeployment is not switched": {
			subject: flinkDeploymentSubject("team", nil, map[string]any{"flinkVersion": "v1_20", "serviceAccount": "flink",
				"flinkConfiguration": map[string]any{"high-availability.type": "zookeeper", "high-availability.zookeeper.quorum": "zk:2181"}}),
		},
		"ZooKeeper HA under the old key is not switched": {
			subject: flinkDeploymentSubject("team", nil, map[string]any{"flinkVersion": "v1_16", "serviceAccount": "flink",
				"flinkConfiguration": map[string]any{"high-availability": "zookeeper"}}),
		},
		"a custom HA factory is not switched": {
			subject: configMapSubject("team", "flink-config", nil, false, map[string]string{"flink-conf.yaml": custom}),
		},
		"opt-in: a configuration without HA is left alone": {
			subject: configMapSubject("team", "flink-config", nil, false, map[string]string{"flink-conf.yaml": "kubernetes.cluster-id: orders\n"}),
			policy:  optIn,
		},
		"opt-in: a FlinkDeployment without HA keeps the default account": {
			subject: flinkDeploymentSubject("team", nil, map[string]any{"flinkVersion": "v1_20", "serviceAccount": "default"}),
			policy:  optIn,
		},
		"a FlinkDeployment without a spec is left to the API server's schema": {
			subject: flinkDeploymentSubject("team", nil, nil),
		},
		"a flinkConfiguration that is not an object is left, and said so": {
			subject: flinkDeploymentSubject("team", nil, map[string]any{"flinkVersion": "v1_20", "serviceAccount": "flink", "flinkConfiguration": "high-availability: kubernetes"}),
			want:    []string{"spec.flinkConfiguration is not an object; left unchanged"},
		},
		"a flinkConfiguration that cannot be read is left, and said why": {
			subject: flinkDeploymentSubject("team", nil, map[string]any{"flinkVersion": "v1_20", "serviceAccount": "flink",
				"flinkConfiguration": deep(65)}),
			want: []string{"spec.flinkConfiguration left unchanged: flinkConfiguration nests deeper than 64 levels"},
		},
		"a nested flinkConfiguration holds no storageDir beside a bare high-availability: validation asks to rename it": {
			subject: flinkDeploymentSubject("team", nil, map[string]any{"flinkVersion": "v2_0", "serviceAccount": "flink",
				"flinkConfiguration": map[string]any{"high-availability": "kubernetes"}}),
		},
		"a configuration that does not parse is left, and said why": {
			subject: configMapSubject("team", "flink-config", nil, false, map[string]string{"config.yaml": "high-availability: [\n"}),
			want:    []string{"data[config.yaml] left unchanged: line 1: invalid YAML: did not find expected node content"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := testPolicy(t)
			if tc.policy != nil {
				tc.policy(p)
			}
			before := tc.subject.obj.DeepCopyObject()
			r := tc.subject.run(p)
			assert.Equal(t, tc.want, r.Warnings())
			assert.Empty(t, r.Changes)
			assert.Empty(t, r.Counts())
			assert.Equal(t, before, tc.subject.obj, "the object is left as it came")
		})
	}
}

// TestWhatTheRulesDoIsCounted holds the contract of Result: every change
// is counted under its rule, and a quiet result says only its notes.
func TestWhatTheRulesDoIsCounted(t *testing.T) {
	t.Parallel()
	s := flinkDeploymentSubject("team", nil, map[string]any{"flinkVersion": "v1_20", "serviceAccount": "default",
		"flinkConfiguration": map[string]any{"parallelism.default": "2"}})
	r := s.run(testPolicy(t))
	const fc = "spec.flinkConfiguration"
	changes := []string{fc + ": set high-availability.type: kubernetes", fc + ": set high-availability.storageDir: s3://flink-ha/team/orders",
		"spec.serviceAccount: set flink-ha, which may manage Flink's HA ConfigMaps"}
	assert.Equal(t, changes, r.Changes)
	assert.Equal(t, map[string]int{mutate.RuleHAConfig: 2, mutate.RuleServiceAccount: 1}, r.Counts())
	assert.Equal(t, "flink-ha", s.obj.(*unstructured.Unstructured).Object["spec"].(map[string]any)["serviceAccount"])
	assert.Equal(t, changes, r.Warnings())

	r.Notes = []string{"a note"}
	r.Quiet()
	assert.Equal(t, []string{"a note"}, r.Warnings(), "a quiet result says only its notes")
	assert.Equal(t, changes, r.Changes, "and still knows its changes")
}

// TestForbiddenOptOutIsMadeHA: where the policy forbids opting out, the
// annotation does not protect the object; validation denies it, and the
// mutation already made is what its user would get after removing it.
func TestForbiddenOptOutIsMadeHA(t *testing.T) {
	t.Parallel()
	off := map[string]string{policy.AnnotationHA: "off"}
	haData := map[string]string{"dispatcher-leader": "pekko.tcp://flink@10.0.0.7:6123/user/rpc/dispatcher_1"}
	cases := map[string]struct {
		subject subject
		want    []string
		counts  map[string]int
	}{
		"an HA ConfigMap loses its owner references, and only those": {
			subject: configMapSubject("team", "orders-cluster-config-map", off, true, haData),
			want:    []string{"removed 1 owner reference(s): Flink HA ConfigMaps must outlive their cluster so its jobs can recover"},
			counts:  map[string]int{mutate.RuleStripOwnerReferences: 1},
		},
		"a configuration gets the HA keys": {
			subject: configMapSubject("team", "flink-config", off, false, map[string]string{"flink-conf.yaml": "kubernetes.cluster-id: orders\n"}),
			want: []string{"data[flink-conf.yaml]: set high-availability: " + factory,
				"data[flink-conf.yaml]: Flink 1.15-1.20 all read the factory class",
				"data[flink-conf.yaml]: set high-availability.storageDir: s3://flink-ha/team/orders",
				"data[flink-conf.yaml]: set high-availability.cluster-id: orders"},
			counts: map[string]int{mutate.RuleHAConfig: 3},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := testPolicy(t)
			no := false
			p.AllowOptOut = &no
			before := tc.subject.obj.DeepCopyObject().(*corev1.ConfigMap)
			r := tc.subject.run(p)
			assert.Equal(t, tc.want, r.Warnings())
			assert.Equal(t, tc.counts, r.Counts())
			after := tc.subject.obj.(*corev1.ConfigMap)
			assert.Nil(t, after.OwnerReferences)
			assert.Equal(t, before.Annotations, after.Annotations, "annotations are never changed")
			if before.Name == "orders-cluster-config-map" {
				assert.Equal(t, before.Data, after.Data, "HA data is never changed")
			}
		})
	}
}

// TestWorkloadAccountAndAddress: pods under no account or "default" get
// the policy's account, except native JobManagers, whose account Flink's
// own setting names; a standalone JobManager advertises its pod IP.
func TestWorkloadAccountAndAddress(t *testing.T) {
	t.Parallel()
	const setAccount = "spec.template.spec.serviceAccountName: set flink-ha, which may manage Flink's HA ConfigMaps"
	type accounts struct{ name, deprecated string }
	cases := map[string]struct {
		role       string // the component label; jobmanager when empty
		native     bool
		command    bool // the container runs a command of its own, with no arguments
		args       []string
		account    accounts
		wantArgs   []string
		wantAcct   accounts
		want       []string
		podIPAdded bool
	}{
		"a JobManager under no account gets the policy's": {
			args: []string{"jobmanager", "$(POD_IP)"}, wantArgs: []string{"jobmanager", "$(POD_IP)"},
			wantAcct: accounts{name: "flink-ha"}, want: []string{setAccount, podIPEnv}, podIPAdded: true,
		},
		"a JobManager under the default account gets the policy's, in both fields": {
			args: []string{"jobmanager", "$(POD_IP)"}, account: accounts{"default", "default"}, wantArgs: []string{"jobmanager", "$(POD_IP)"},
			wantAcct: accounts{"flink-ha", "flink-ha"}, want: []string{setAccount, podIPEnv}, podIPAdded: true,
		},
		"an account of the user's choosing in the deprecated field is kept": {
			args: []string{"jobmanager", "$(POD_IP)"}, account: accounts{deprecated: "mine"}, wantArgs: []string{"jobmanager", "$(POD_IP)"},
			wantAcct: accounts{deprecated: "mine"}, want: []string{podIPEnv}, podIPAdded: true,
		},
		"a native JobManager keeps the default account: Flink's kubernetes.service-account names its own": {
			native: true, args: []string{"bash", "-c", "kubernetes-jobmanager.sh kubernetes-session"}, account: accounts{name: "default"},
			wantArgs: []string{"bash", "-c", "kubernetes-jobmanager.sh kubernetes-session"}, wantAcct: accounts{name: "default"},
		},
		"a TaskManager gets the policy's account and no address": {
			role: "taskmanager", args: []string{"taskmanager"}, wantArgs: []string{"taskmanager"},
			wantAcct: accounts{name: "flink-ha"}, want: []string{setAccount},
		},
		"a JobManager with a command of its own gets POD_IP and keeps its command": {
			command: true, account: accounts{name: "flink"}, wantAcct: accounts{name: "flink"}, want: []string{podIPEnv}, podIPAdded: true,
		},
		"a JobManager that advertises a service name through -D is told why HA needs its pod IP": {
			args: []string{"jobmanager", "-D", "jobmanager.rpc.address=flink-jobmanager"}, account: accounts{name: "flink"},
			wantArgs: []string{"jobmanager", "-D", "jobmanager.rpc.address=flink-jobmanager"}, wantAcct: accounts{name: "flink"},
			want: []string{podIPEnv, container + `.args: the JobManager advertises "flink-jobmanager"; with HA its standbys need $(POD_IP)`}, podIPAdded: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			meta, tpl := jobManager("flink:1.20", tc.args, nil, true)
			if tc.role != "" {
				tpl.Labels = map[string]string{"component": tc.role}
			}
			if tc.native {
				meta.Labels = map[string]string{"component": "jobmanager", "type": "flink-native-kubernetes"}
				tpl.Spec.Containers[0].VolumeMounts, tpl.Spec.Volumes = nil, nil
			}
			if tc.command {
				tpl.Spec.Containers[0].Command = []string{"/opt/flink/bin/start-my-jobmanager.sh"}
			}
			spec := &tpl.Spec
			spec.ServiceAccountName, spec.DeprecatedServiceAccount = tc.account.name, tc.account.deprecated
			r := mutate.Workload(meta, tpl, testPolicy(t))
			assert.Equal(t, tc.want, r.Warnings())
			assert.Equal(t, tc.wantAcct, accounts{spec.ServiceAccountName, spec.DeprecatedServiceAccount})
			assert.Equal(t, tc.wantArgs, spec.Containers[0].Args)
			var env []corev1.EnvVar
			if tc.podIPAdded {
				env = []corev1.EnvVar{{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "status.podIP"}}}}
			}
			assert.Equal(t, env, spec.Containers[0].Env)
			assert.Empty(t, mutate.Workload(meta, tpl, testPolicy(t)).Changes, "a second pass changes nothing")
		})
	}
}

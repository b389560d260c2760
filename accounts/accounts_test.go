package accounts

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/yaml"

	"github.com/flink-ha-webhook/flink-ha-webhook/cluster"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
)

func TestUsesAccount(t *testing.T) {
	t.Parallel()
	p, err := policy.Parse([]byte("exemptNamespaces: [legacy]\n"))
	require.NoError(t, err)
	r := &Reconciler{Policy: p}
	under := func(sa string) corev1.PodTemplateSpec {
		return corev1.PodTemplateSpec{Spec: corev1.PodSpec{ServiceAccountName: sa}}
	}
	meta := func(ns string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: "x", Namespace: ns} }
	fd := func(sa string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": "x", "namespace": "team"}, "spec": map[string]any{"serviceAccount": sa}}}
	}
	cases := map[string]struct {
		obj  client.Object
		want bool
	}{
		"a Deployment under the policy's account":  {&appsv1.Deployment{ObjectMeta: meta("team"), Spec: appsv1.DeploymentSpec{Template: under("flink-ha")}}, true},
		"a StatefulSet under the policy's account": {&appsv1.StatefulSet{ObjectMeta: meta("team"), Spec: appsv1.StatefulSetSpec{Template: under("flink-ha")}}, true},
		"a Job under the policy's account":         {&batchv1.Job{ObjectMeta: meta("team"), Spec: batchv1.JobSpec{Template: under("flink-ha")}}, true},
		"a FlinkDeployment under it":               {fd("flink-ha"), true},
		"a FlinkDeployment whose JobManager key names it, beside another spec.serviceAccount": {
			withConf(fd("flink"), jmKey, "flink-ha"), true},
		"a FlinkDeployment whose TaskManager key names it, beside another spec.serviceAccount": {
			withConf(fd("flink"), tmKey, "flink-ha"), true},
		"a FlinkDeployment whose JobManager key names it nested": {
			inConf(fd("flink"), map[string]any{"kubernetes": map[string]any{"jobmanager": map[string]any{"service-account": "flink-ha"}}}), true},
		"a FlinkDeployment under it whose JobManager key names another: its TaskManagers still run under it": {
			withConf(fd("flink-ha"), jmKey, "leader"), true},
		"a FlinkDeployment under it whose role keys both name others: no pod runs under it": {
			withConf(withConf(fd("flink-ha"), jmKey, "leader"), tmKey, "workers"), false},
		"a FlinkDeployment whose kubernetes.service-account names it: the operator overwrites that key": {
			withConf(fd("flink"), "kubernetes.service-account", "flink-ha"), false},
		"a Deployment under another account": {&appsv1.Deployment{ObjectMeta: meta("team"), Spec: appsv1.DeploymentSpec{Template: under("web")}}, false},
		"a FlinkDeployment under another":    {fd("flink"), false},
		"an exempt namespace":                {&appsv1.Deployment{ObjectMeta: meta("legacy"), Spec: appsv1.DeploymentSpec{Template: under("flink-ha")}}, false},
	}
	for name, tc := range cases {
		assert.Equal(t, tc.want, r.usesAccount(context.Background(), tc.obj), name)
	}
}

// TestCachedObjectsKeepOnlyWhatIsRead: the cache transforms drop all but
// the name, the pod account and the annotations the webhook records, so
// watching every workload stays cheap; other objects only lose their
// managed fields.
func TestCachedObjectsKeepOnlyWhatIsRead(t *testing.T) {
	t.Parallel()
	big := metav1.ObjectMeta{Name: "jm", Namespace: "team", UID: "u", ResourceVersion: "7",
		Labels:        map[string]string{"a": "b"},
		Annotations:   map[string]string{"big": "x", "flink-ha-webhook/cluster-id": "orders"},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply}}}
	slim := metav1.ObjectMeta{Name: "jm", Namespace: "team", UID: "u", ResourceVersion: "7",
		Annotations: map[string]string{"flink-ha-webhook/cluster-id": "orders"}}
	pods := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "orders"}},
		Spec: corev1.PodSpec{ServiceAccountName: "flink-ha", Containers: []corev1.Container{{Name: "jobmanager", Image: "flink:1.20", Args: []string{"jobmanager"}}}}}
	account := corev1.PodTemplateSpec{Spec: corev1.PodSpec{ServiceAccountName: "flink-ha"}}
	fd := func(meta metav1.ObjectMeta, spec map[string]any) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{}}
		if spec != nil {
			u.Object["spec"] = spec
		}
		u.SetGroupVersionKind(FlinkDeploymentGVK)
		u.SetName(meta.Name)
		u.SetNamespace(meta.Namespace)
		u.SetUID(meta.UID)
		u.SetResourceVersion(meta.ResourceVersion)
		u.SetLabels(meta.Labels)
		u.SetAnnotations(meta.Annotations)
		u.SetManagedFields(meta.ManagedFields)
		return u
	}
	configMap := &corev1.ConfigMap{ObjectMeta: big, Data: map[string]string{"flink-conf.yaml": "a: b\n"}}
	stripped := configMap.DeepCopy()
	stripped.ManagedFields = nil
	sa := &corev1.ServiceAccount{ObjectMeta: big}

	for obj, opts := range CacheOptions() {
		if _, ok := obj.(*corev1.ServiceAccount); ok {
			assert.Equal(t, "app.kubernetes.io/managed-by=flink-ha-webhook", opts.Label.String(), "only our ServiceAccounts are cached")
		}
	}
	workloads := workloadsTransform(t)
	cases := map[string]struct {
		transform func(any) (any, error)
		in, want  any
	}{
		"a Deployment keeps its name, pod account and recorded annotations": {
			transform: workloads,
			in:        &appsv1.Deployment{ObjectMeta: big, Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1), Template: pods}},
			want:      &appsv1.Deployment{ObjectMeta: slim, Spec: appsv1.DeploymentSpec{Template: account}},
		},
		"a StatefulSet keeps its name, pod account and recorded annotations": {
			transform: workloads,
			in:        &appsv1.StatefulSet{ObjectMeta: big, Spec: appsv1.StatefulSetSpec{ServiceName: "jm", Template: pods}},
			want:      &appsv1.StatefulSet{ObjectMeta: slim, Spec: appsv1.StatefulSetSpec{Template: account}},
		},
		"a Job keeps its name, pod account and recorded annotations": {
			transform: workloads,
			in:        &batchv1.Job{ObjectMeta: big, Spec: batchv1.JobSpec{Parallelism: ptr.To[int32](1), Template: pods}},
			want:      &batchv1.Job{ObjectMeta: slim, Spec: batchv1.JobSpec{Template: account}},
		},
		"a native JobManager Deployment keeps Flink's labels that mark it": {
			transform: workloads, in: jobManagerDeployment(true), want: slimJobManager(nativeJobManagerLabels),
		},
		"a standalone JobManager Deployment keeps no labels, and of its pods what recognises them with their configuration's mount": {
			transform: workloads, in: jobManagerDeployment(false), want: mountingJobManager(),
		},
		"a JobManager Deployment whose type label has another value keeps no labels": {
			transform: workloads, in: labelledAs(jobManagerDeployment(true), "type", "flink-standalone-kubernetes"), want: slimJobManager(nil),
		},
		"a native TaskManager's labels are kept of no Deployment": {
			transform: workloads, in: labelledAs(jobManagerDeployment(true), "component", "taskmanager"), want: slimJobManager(nil),
		},
		"a Deployment labelled as a native JobManager that runs no Flink keeps no labels": {
			transform: workloads, in: runningNoFlink(jobManagerDeployment(true)), want: slimJobManager(nil),
		},
		"an object of another kind passes the workloads' transform as it is": {
			transform: workloads, in: sa, want: sa,
		},
		"a FlinkDeployment keeps its name, account and recorded annotations": {
			transform: Transform(),
			in:        fd(big, map[string]any{"serviceAccount": "flink-ha", "image": "flink:1.20", "flinkConfiguration": map[string]any{"a": "b"}}),
			want:      fd(slim, map[string]any{"serviceAccount": "flink-ha"}),
		},
		"a standalone FlinkDeployment keeps its mode": {
			transform: Transform(),
			in:        fd(big, map[string]any{"serviceAccount": "flink-ha", "mode": "standalone", "image": "flink:1.20"}),
			want:      fd(slim, map[string]any{"serviceAccount": "flink-ha", "mode": "standalone"}),
		},
		"a FlinkDeployment in native mode keeps no mode: none means native": {
			transform: Transform(),
			in:        fd(big, map[string]any{"serviceAccount": "flink-ha", "mode": "native", "image": "flink:1.20"}),
			want:      fd(slim, map[string]any{"serviceAccount": "flink-ha"}),
		},
		"a FlinkDeployment whose JobManager key names another account keeps that key, flat": {
			transform: Transform(),
			in: fd(big, map[string]any{"serviceAccount": "flink-ha", "image": "flink:1.20", "flinkConfiguration": map[string]any{
				"kubernetes": map[string]any{"jobmanager": map[string]any{"service-account": "leader"}}, "taskmanager.numberOfTaskSlots": "2"}}),
			want: fd(slim, map[string]any{"serviceAccount": "flink-ha", "flinkConfiguration": map[string]any{jmKey: "leader"}}),
		},
		"a standalone FlinkDeployment whose empty TaskManager key means the default account keeps it so, and its mode": {
			transform: Transform(),
			in:        fd(big, map[string]any{"serviceAccount": "flink-ha", "mode": "standalone", "flinkConfiguration": map[string]any{tmKey: ""}}),
			want:      fd(slim, map[string]any{"serviceAccount": "flink-ha", "mode": "standalone", "flinkConfiguration": map[string]any{tmKey: "default"}}),
		},
		"role keys naming spec.serviceAccount's account keep no configuration": {
			transform: Transform(),
			in:        fd(big, map[string]any{"serviceAccount": "flink-ha", "flinkConfiguration": map[string]any{jmKey: "flink-ha", tmKey: "flink-ha"}}),
			want:      fd(slim, map[string]any{"serviceAccount": "flink-ha"}),
		},
		"a FlinkDeployment without spec.serviceAccount keeps the one role key that names an account": {
			transform: Transform(),
			in:        fd(big, map[string]any{"flinkConfiguration": map[string]any{jmKey: "leader", "state.backend.type": "rocksdb"}}),
			want:      fd(slim, map[string]any{"flinkConfiguration": map[string]any{jmKey: "leader"}}),
		},
		"a FlinkDeployment without an account keeps no spec": {
			transform: Transform(), in: fd(big, map[string]any{"image": "flink:1.20"}), want: fd(slim, nil),
		},
		"any other object only loses its managed fields": {
			transform: Transform(), in: configMap.DeepCopy(), want: stripped,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := tc.transform(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestRoleAccountsAreAdmissions: the reconciler reads the accounts a
// FlinkDeployment's roles run under as admission does
// (cluster.FlinkDeployment, RoleAccounts), whatever the policy, and
// reads the same of the object the cache keeps; and its mode too.
func TestRoleAccountsAreAdmissions(t *testing.T) {
	t.Parallel()
	var policies []*policy.Policy
	for _, text := range []string{"{}\n", "mode: opt-in\n", "exemptNamespaces: [team]\n", "serviceAccount: leader\nallowOptOut: false\n"} {
		p, err := policy.Parse([]byte(text))
		require.NoError(t, err)
		policies = append(policies, p)
	}
	deep := map[string]any{jmKey: "leader"}
	for range 70 {
		deep = map[string]any{"x": deep}
	}
	cases := map[string]struct {
		spec           any
		wantJM, wantTM string
	}{
		"no configuration: both roles under spec.serviceAccount": {
			spec: `{serviceAccount: mine, flinkVersion: v1_20}`, wantJM: "mine", wantTM: "mine"},
		"a flat JobManager key": {
			spec: `{serviceAccount: mine, flinkConfiguration: {kubernetes.jobmanager.service-account: leader}}`, wantJM: "leader", wantTM: "mine"},
		"nested keys of both roles, on Flink 2": {
			spec:   `{serviceAccount: mine, flinkVersion: v2_0, flinkConfiguration: {kubernetes: {jobmanager: {service-account: leader}, taskmanager: {service-account: workers}}}}`,
			wantJM: "leader", wantTM: "workers"},
		"a key nested under a flat prefix": {
			spec: `{serviceAccount: mine, flinkConfiguration: {kubernetes.taskmanager: {service-account: workers}}}`, wantJM: "mine", wantTM: "workers"},
		"an empty key is the default account": {
			spec: `{serviceAccount: mine, flinkConfiguration: {kubernetes.jobmanager.service-account: ""}}`, wantJM: "default", wantTM: "mine"},
		"a null key is no key": {
			spec: `{serviceAccount: mine, flinkConfiguration: {kubernetes.jobmanager.service-account: null}}`, wantJM: "mine", wantTM: "mine"},
		"a key set twice, nested and flat: the flat one": {
			spec:   `{serviceAccount: mine, flinkConfiguration: {kubernetes.jobmanager.service-account: flat, kubernetes: {jobmanager: {service-account: nested}}}}`,
			wantJM: "flat", wantTM: "mine"},
		"kubernetes.service-account in flinkConfiguration, which the operator overwrites": {
			spec: `{serviceAccount: mine, flinkConfiguration: {kubernetes.service-account: other}}`, wantJM: "mine", wantTM: "mine"},
		"a flinkConfiguration that is no object": {
			spec: `{serviceAccount: mine, flinkConfiguration: "kubernetes.jobmanager.service-account: leader"}`, wantJM: "mine", wantTM: "mine"},
		"a flinkConfiguration too deep to read": {
			spec: map[string]any{"serviceAccount": "mine", "flinkConfiguration": deep}, wantJM: "mine", wantTM: "mine"},
		"no spec.serviceAccount, a TaskManager key, standalone": {
			spec: `{mode: standalone, flinkConfiguration: {kubernetes.taskmanager.service-account: workers}}`, wantJM: "", wantTM: "workers"},
		"a spec.serviceAccount that is no string": {
			spec: `{serviceAccount: 7, flinkConfiguration: {kubernetes.jobmanager.service-account: leader}}`, wantJM: "leader", wantTM: ""},
		"no spec": {},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			u := &unstructured.Unstructured{Object: map[string]any{}}
			u.SetGroupVersionKind(FlinkDeploymentGVK)
			u.SetNamespace("team")
			u.SetName("orders")
			u.SetAnnotations(map[string]string{policy.AnnotationHA: "off"})
			switch spec := tc.spec.(type) {
			case string:
				var m map[string]any
				require.NoError(t, yaml.Unmarshal([]byte(spec), &m))
				u.Object["spec"] = m
			case map[string]any:
				u.Object["spec"] = spec
			}
			jm, tm := accountsOf(u)
			assert.Equal(t, [2]string{tc.wantJM, tc.wantTM}, [2]string{jm, tm})
			for _, p := range policies {
				ajm, atm := cluster.FlinkDeployment(u.DeepCopy(), p).RoleAccounts()
				assert.Equal(t, [2]string{ajm.Name, atm.Name}, [2]string{jm, tm}, "as admission reads them")
			}
			slim, err := Transform()(u.DeepCopy())
			require.NoError(t, err)
			sjm, stm := accountsOf(slim.(client.Object))
			assert.Equal(t, [2]string{jm, tm}, [2]string{sjm, stm}, "as the cache keeps them")
			assert.Equal(t, runsNative(u), runsNative(slim.(client.Object)), "the mode as the cache keeps it")
		})
	}
}

// slimJobManager is what the cache keeps of jobManagerDeployment, labels
// aside.
func slimJobManager(labels map[string]string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "orders", Namespace: "team", UID: "d1", ResourceVersion: "17", Labels: labels,
			Annotations: map[string]string{"flink-ha-webhook/cluster-id": "orders"}},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{ServiceAccountName: "flink-ha"}}},
	}
}

// mountingJobManager is jobManagerDeployment(false) as the cache keeps
// it: its account, and what recognises its pods as a JobManager of Flink
// 1.20 reading the ConfigMap it mounts.
func mountingJobManager() *appsv1.Deployment {
	d := slimJobManager(nil)
	d.Spec.Template.Labels = map[string]string{"component": "jobmanager"}
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "jobmanager", Image: "flink:1.20",
		VolumeMounts: []corev1.VolumeMount{{Name: "flink-config-volume", MountPath: "/opt/flink/conf"}}}}
	d.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "flink-config-volume", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: "flink-config-orders"}}}}}
	return d
}

// labelledAs sets label key to value on a Deployment and its pods.
func labelledAs(d *appsv1.Deployment, key, value string) *appsv1.Deployment {
	d.Labels = maps.Clone(d.Labels)
	d.Labels[key] = value
	d.Spec.Template.Labels = maps.Clone(d.Labels)
	return d
}

// runningNoFlink makes a Deployment's pods run a web server.
func runningNoFlink(d *appsv1.Deployment) *appsv1.Deployment {
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "web", Image: "nginx:1.27", Args: []string{"nginx"}}}
	return d
}

// TestRetries: a namespace's retries double from 50ms and stop growing at
// 30s, so the accounts catch up within 30s of an outage's end; a
// namespace that succeeded starts again at 50ms, and namespaces do not
// share their count.
func TestRetries(t *testing.T) {
	t.Parallel()
	l := retries()
	team := reconcile.Request{NamespacedName: types.NamespacedName{Name: "team"}}
	var got []time.Duration
	for range 13 {
		got = append(got, l.When(team))
	}
	ms := time.Millisecond
	assert.Equal(t, []time.Duration{50 * ms, 100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms, 3200 * ms, 6400 * ms,
		12800 * ms, 25600 * ms, 30 * time.Second, 30 * time.Second, 30 * time.Second}, got)
	assert.Equal(t, 13, l.NumRequeues(team))
	assert.Equal(t, 50*ms, l.When(reconcile.Request{NamespacedName: types.NamespacedName{Name: "web"}}), "another namespace starts at 50ms")
	l.Forget(team)
	assert.Equal(t, 0, l.NumRequeues(team))
	assert.Equal(t, 50*ms, l.When(team), "a namespace that succeeded starts again at 50ms")
}

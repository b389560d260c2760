package report

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
	clienttesting "k8s.io/client-go/testing"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/flink-ha-webhook/flink-ha-webhook/audit"
	"github.com/flink-ha-webhook/flink-ha-webhook/fleet"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
)

// fakes are a cluster as the audit and the report writer see it. They only
// store: the audit's SubjectAccessReviews are refused, which the audit
// reports as rights unknown.
type fakes struct {
	kube     *kubefake.Clientset
	dynamic  *dynamicfake.FakeDynamicClient
	metadata *metadatafake.FakeMetadataClient
}

// cluster is a standalone Flink cluster with complete Kubernetes HA in
// namespace: a configuration ConfigMap and a JobManager Deployment that
// mounts it.
func cluster(namespace string) []runtime.Object {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "orders-config", Namespace: namespace}, Data: map[string]string{"flink-conf.yaml": `
kubernetes.cluster-id: orders
high-availability.type: kubernetes
high-availability.storageDir: s3://flink-ha/` + namespace + `/orders
high-availability.cluster-id: orders
jobmanager.rpc.address: orders
`}}
	labels := map[string]string{"app": "orders", "component": "jobmanager"}
	jm := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "orders-jobmanager", Namespace: namespace}, Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{ServiceAccountName: "flink",
			Containers: []corev1.Container{{Name: "jobmanager", Image: "flink:1.18.1", Args: []string{"jobmanager", "$(POD_IP)"},
				Env:          []corev1.EnvVar{{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}}},
				VolumeMounts: []corev1.VolumeMount{{Name: "conf", MountPath: "/opt/flink/conf"}}}},
			Volumes: []corev1.Volume{{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "orders-config"}}}}}}}}}
	return []runtime.Object{cm, jm}
}

// policyReport is a PolicyReport named name in namespace, labelled as the
// webhook's when ours.
func policyReport(namespace, name, resourceVersion string, ours bool) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport",
		"metadata": map[string]any{"name": name, "namespace": namespace, "resourceVersion": resourceVersion}, "results": []any{}}}
	if ours {
		u.SetLabels(map[string]string{"app.kubernetes.io/managed-by": ManagedBy})
	}
	return u
}

func newFakes(t *testing.T, reports []runtime.Object, objs ...runtime.Object) *fakes {
	t.Helper()
	var metas []runtime.Object
	for _, o := range objs {
		if cm, ok := o.(*corev1.ConfigMap); ok {
			metas = append(metas, &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: cm.ObjectMeta})
		}
	}
	metaScheme := metadatafake.NewTestScheme()
	require.NoError(t, metav1.AddMetaToScheme(metaScheme))
	f := &fakes{
		kube: kubefake.NewClientset(objs...),
		dynamic: dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
			audit.FlinkDeployments: "FlinkDeploymentList", WGPolicy: "PolicyReportList", OpenReports: "ReportList"}, reports...),
		metadata: metadatafake.NewSimpleMetadataClient(metaScheme, metas...),
	}
	f.kube.PrependReactor("create", "subjectaccessreviews", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "authorization.k8s.io", Resource: "subjectaccessreviews"}, "", errors.New("not asked here"))
	})
	return f
}

func (f *fakes) runner(reports schema.GroupVersionResource) *Runner {
	return &Runner{Clients: audit.Clients{Kube: f.kube, Dynamic: f.dynamic, Metadata: f.metadata}, Policy: policy.Default(), Reports: reports}
}

// writes are the report writer's requests: verb namespace/name, and the
// resourceVersion an update names.
func (f *fakes) writes() []string {
	var out []string
	for _, a := range f.dynamic.Actions() {
		if a.GetResource() == audit.FlinkDeployments {
			continue
		}
		switch a.GetVerb() {
		case "get", "delete":
			out = append(out, a.GetVerb()+" "+a.GetNamespace()+"/"+a.(clienttesting.GetAction).GetName())
		case "create":
			out = append(out, "create "+a.GetNamespace()+"/"+a.(clienttesting.CreateAction).GetObject().(*unstructured.Unstructured).GetName())
		case "update":
			u := a.(clienttesting.UpdateAction).GetObject().(*unstructured.Unstructured)
			out = append(out, "update@"+u.GetResourceVersion()+" "+a.GetNamespace()+"/"+u.GetName())
		case "list":
			out = append(out, "list "+a.(clienttesting.ListAction).GetListRestrictions().Labels.String())
		}
	}
	return out
}

// stored is the report of namespace as stored, or nil.
func (f *fakes) stored(t *testing.T, gvr schema.GroupVersionResource, namespace string) *unstructured.Unstructured {
	o, err := f.dynamic.Tracker().Get(gvr, namespace, Name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	require.NoError(t, err)
	return o.(*unstructured.Unstructured)
}

// TestOnceWritesEachNamespacesReport: the report of a namespace with
// clusters is created, or updated in place, and the webhook's report of a
// namespace left without clusters deleted; other reports are left alone.
func TestOnceWritesEachNamespacesReport(t *testing.T) {
	objs := append(cluster("new"), cluster("kept")...)
	f := newFakes(t, []runtime.Object{
		policyReport("kept", Name, "7", true),
		policyReport("emptied", Name, "3", true),
		policyReport("emptied", "kyverno-polr", "4", false),
		policyReport("emptied", "flink-ha-webhook-old", "5", true),
		policyReport("other", Name, "6", false),
	}, objs...)
	require.NoError(t, f.runner(WGPolicy).Once(context.Background()))

	writes := f.writes()
	assert.ElementsMatch(t, []string{"get new/flink-ha-webhook", "create new/flink-ha-webhook", "get kept/flink-ha-webhook", "update@7 kept/flink-ha-webhook"},
		writes[:4], "namespaces are written in any order")
	assert.Equal(t, []string{"list app.kubernetes.io/managed-by=flink-ha-webhook", "delete emptied/flink-ha-webhook"}, writes[4:])
	for _, ns := range []string{"new", "kept"} {
		got := f.stored(t, WGPolicy, ns)
		require.NotNil(t, got, ns)
		results, _, _ := unstructured.NestedSlice(got.Object, "results")
		require.NotEmpty(t, results, ns)
		seconds, _, _ := unstructured.NestedInt64(results[0].(map[string]any), "timestamp", "seconds")
		want := build(WGPolicy, ns, []audit.Cluster{{Namespace: ns, ClusterID: "orders", Mode: "standalone", HA: "on", Account: "flink",
			Rights:  "unknown: subjectaccessreviews.authorization.k8s.io is forbidden: not asked here",
			Objects: []string{"Deployment/orders-jobmanager", "ConfigMap/orders-config"}, Policy: audit.Verdict{Result: "ok"}}}, nil, time.Unix(seconds, 0))
		want.SetResourceVersion(got.GetResourceVersion())
		assert.Equal(t, want, got, ns)
	}
	assert.Nil(t, f.stored(t, WGPolicy, "emptied"), "the webhook's report of a namespace without clusters is deleted")
	for _, left := range [][2]string{{"emptied", "kyverno-polr"}, {"emptied", "flink-ha-webhook-old"}, {"other", Name}} {
		_, err := f.dynamic.Tracker().Get(WGPolicy, left[0], left[1])
		assert.NoError(t, err, "%s/%s is not the webhook's report: left alone", left[0], left[1])
	}
}

// TestOnceWithoutAReportAPI publishes the gauges and the time of its
// success, and writes no report.
func TestOnceWithoutAReportAPI(t *testing.T) {
	f := newFakes(t, nil, cluster("team")...)
	lastSuccess.Set(0)
	before := time.Now().Unix()
	require.NoError(t, f.runner(schema.GroupVersionResource{}).Once(context.Background()))
	assert.Empty(t, f.writes())
	assert.NoError(t, testutil.GatherAndCompare(metrics.Registry, strings.NewReader(gauges(1, 0, 0, 0, 0, 0, 0, 0, 0)), gaugeNames...))
	assert.GreaterOrEqual(t, testutil.ToFloat64(lastSuccess), float64(before), "the last success is now")
}

// TestOnceFailures: a failed audit publishes nothing; a namespace whose
// report cannot be written does not hold up the others', and a namespace
// being deleted, or gone, is no failure.
func TestOnceFailures(t *testing.T) {
	boom := errors.New("etcdserver: request timed out")
	terminating := &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: 403, Reason: metav1.StatusReasonForbidden,
		Message: "unable to create new content in namespace a because it is being terminated",
		Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: corev1.NamespaceTerminatingCause, Message: "namespace a is being terminated"}}}}}
	cases := map[string]struct {
		// fail makes the fake answer verb on resource with err in namespace
		// ns (any namespace when empty).
		verb, resource, ns string
		err                error
		want               string
		// stored are the namespaces that hold the webhook's report after;
		// "emptied" held one before, and has no cluster.
		stored []string
	}{
		"the audit fails: no gauge, no report": {
			verb: "list", resource: "deployments", err: boom, want: "listing Deployments: etcdserver: request timed out", stored: []string{"emptied"}},
		"one namespace's report cannot be created: the other's is": {
			verb: "create", resource: "policyreports", ns: "a", err: boom, want: "the report of namespace a: etcdserver: request timed out", stored: []string{"b"}},
		"one namespace's report cannot be read: the other's is written": {
			verb: "get", resource: "policyreports", ns: "a", err: boom, want: "the report of namespace a: etcdserver: request timed out", stored: []string{"b"}},
		"a namespace being deleted is no failure": {
			verb: "create", resource: "policyreports", ns: "a", err: terminating, stored: []string{"b"}},
		"a namespace gone meanwhile is no failure": {
			verb: "create", resource: "policyreports", ns: "a", err: apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, "a"), stored: []string{"b"}},
		"the old reports cannot be listed": {
			verb: "list", resource: "policyreports", err: boom, want: "etcdserver: request timed out", stored: []string{"a", "b", "emptied"}},
		"an old report cannot be deleted": {
			verb: "delete", resource: "policyreports", err: boom, want: "etcdserver: request timed out", stored: []string{"a", "b", "emptied"}},
		"an old report deleted meanwhile is no failure": {
			verb: "delete", resource: "policyreports", err: apierrors.NewNotFound(WGPolicy.GroupResource(), Name), stored: []string{"a", "b", "emptied"}},
	}
	for name, tc := range cases {
		f := newFakes(t, []runtime.Object{policyReport("emptied", Name, "3", true)}, append(cluster("a"), cluster("b")...)...)
		fake := &f.dynamic.Fake
		if tc.resource == "deployments" {
			fake = &f.kube.Fake
		}
		fake.PrependReactor(tc.verb, tc.resource, func(a clienttesting.Action) (bool, runtime.Object, error) {
			return tc.ns == "" || a.GetNamespace() == tc.ns, nil, tc.err
		})
		lastSuccess.Set(0)
		publish(&audit.Report{Clusters: []audit.Cluster{{Mode: fleet.Standalone, HA: fleet.HAZooKeeper}}})
		err := f.runner(WGPolicy).Once(context.Background())
		if tc.want == "" {
			assert.NoError(t, err, name)
		} else {
			assert.EqualError(t, err, tc.want, name)
		}
		var stored []string
		for _, ns := range []string{"a", "b", "emptied"} {
			if f.stored(t, WGPolicy, ns) != nil {
				stored = append(stored, ns)
			}
		}
		assert.Equal(t, tc.stored, stored, name)
		if tc.resource == "deployments" {
			assert.NoError(t, testutil.GatherAndCompare(metrics.Registry, strings.NewReader(gauges(0, 0, 1, 0, 0, 0, 0, 0, 0)), gaugeNames...),
				"%s: the last audit's gauges stay", name)
		}
		if tc.want != "" {
			assert.Equal(t, float64(0), testutil.ToFloat64(lastSuccess), "%s: no success", name)
		} else {
			assert.NotZero(t, testutil.ToFloat64(lastSuccess), "%s: a success", name)
		}
	}
}

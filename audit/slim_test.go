package audit

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flink-ha-webhook/flink-ha-webhook/fleet"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
	"github.com/flink-ha-webhook/flink-ha-webhook/rights"
)

// applied makes the ConfigMap name of w what kubectl apply leaves: managed
// fields, and the last-applied-configuration annotation holding the
// ConfigMap again, beside annotations it had.
func applied(t *testing.T, w *world, name string) *corev1.ConfigMap {
	t.Helper()
	ctx := context.Background()
	cm, err := w.kube.CoreV1().ConfigMaps("team").Get(ctx, name, metav1.GetOptions{})
	require.NoError(t, err)
	last, err := json.Marshal(cm)
	require.NoError(t, err)
	if cm.Annotations == nil {
		cm.Annotations = map[string]string{}
	}
	cm.Annotations[corev1.LastAppliedConfigAnnotation] = string(last)
	cm.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubectl-client-side-apply", Operation: metav1.ManagedFieldsOperationUpdate,
		APIVersion: "v1", FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(`{"f:data":{".":{},"f:flink-conf.yaml":{}}}`)}}
	cm, err = w.kube.CoreV1().ConfigMaps("team").Update(ctx, cm, metav1.UpdateOptions{})
	require.NoError(t, err)
	return cm
}

// optedOut is manifests with their ConfigMaps opting out of HA, beside
// labels and an owner the rules read too.
func optedOut(manifests string) string {
	return strings.Replace(manifests, "metadata: {name: orders-config, namespace: team}",
		"metadata:\n  name: orders-config\n  namespace: team\n  labels: {app: orders}\n  annotations: {flink-ha-webhook/ha: \"off\", team.example/owner: data}\n"+
			"  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: orders-jobmanager, uid: u1}]", 1)
}

// TestTheConfigMapsKeptAreWhatTheirReadersRead: a JobManager's
// configuration ConfigMap is kept for the rest of the audit without its
// managed fields and kubectl's copy of its data, which nothing reads, and
// with everything else: its labels, owners, other annotations and data.
func TestTheConfigMapsKeptAreWhatTheirReadersRead(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		manifests string
		// annotations are those kept.
		annotations map[string]string
	}{
		"kubectl's annotation was the only one: none are kept": {
			manifests: jobManager("team", "orders", haConf),
		},
		"the others stay": {
			manifests:   optedOut(jobManager("team", "orders", haConf)),
			annotations: map[string]string{policy.AnnotationHA: "off", "team.example/owner": "data"},
		},
	}
	for name, tc := range cases {
		w := newWorld(t, tc.manifests)
		stored := applied(t, w, "orders-config")
		want := stored.DeepCopy()
		want.ManagedFields, want.Annotations = nil, tc.annotations
		a := &auditor{c: w.clients(), configMaps: map[string]*corev1.ConfigMap{}}
		assert.Equal(t, want, a.lookup(context.Background(), "team")("orders-config"), name)
		assert.Equal(t, map[string]*corev1.ConfigMap{"team/orders-config": want}, a.configMaps, name)
	}
}

// TestRunJudgesAppliedConfigMapsAsStored: what the cache drops changes
// nothing the rules or the identity read: a cluster whose ConfigMap was
// applied with kubectl is reported as the same cluster stored without
// what kubectl adds, compliant, denied or opted out.
func TestRunJudgesAppliedConfigMapsAsStored(t *testing.T) {
	t.Parallel()
	noStorage := "kubernetes.cluster-id: orders\nhigh-availability.type: kubernetes"
	optedOutDenied := func(c *Cluster) {
		noStorageDir("deny")(c)
		c.Policy.Changes = nil // the ConfigMap opted out: not completed, still checked
	}
	for name, tc := range map[string]struct {
		manifests string
		want      Cluster
	}{
		"a compliant cluster":            {jobManager("team", "orders", haConf), orders()},
		"a cluster without a storageDir": {jobManager("team", "orders", noStorage), with(orders(), noStorageDir("deny"))},
		"a cluster that opts out":        {optedOut(jobManager("team", "orders", noStorage)), with(orders(), optedOutDenied)},
	} {
		want := &Report{Clusters: []Cluster{tc.want}, Collisions: []fleet.Collision{}, AtRisk: len(tc.want.AtRisk) > 0}
		for _, kubectl := range []bool{false, true} {
			w := newWorld(t, tc.manifests)
			w.authorize(map[string][]rights.Access{"team/flink": haRights})
			if kubectl {
				applied(t, w, "orders-config")
			}
			got, err := Run(context.Background(), w.clients(), Options{Policy: policy.Default()})
			require.NoError(t, err, name)
			assert.Equal(t, want, got, "%s, applied with kubectl: %v", name, kubectl)
		}
	}
}

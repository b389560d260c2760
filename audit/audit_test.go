package audit

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flink-ha-webhook/flink-ha-webhook/fleet"
	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
	"github.com/flink-ha-webhook/flink-ha-webhook/rights"
)

// TestTheEndToEndClusters audits the clusters test/audit deploys on the
// test bed, with the authorizer's answers that test's RBAC gives: the
// report it asserts there, from the fakes here.
func TestTheEndToEndClusters(t *testing.T) {
	t.Parallel()
	manifests, err := os.ReadFile("../test/audit/testdata/clusters.yaml")
	require.NoError(t, err)
	w := newWorld(t, strings.ReplaceAll(string(manifests), "NAMESPACE", "team"))
	ctx := context.Background()
	cm, err := w.kube.CoreV1().ConfigMaps("team").Get(ctx, "orders-cluster-config-map", metav1.GetOptions{})
	require.NoError(t, err)
	cm.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "orders-jobmanager", UID: "u1"}}
	require.NoError(t, w.metadata.Tracker().Update(configMaps, &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: cm.ObjectMeta}, "team"))
	asked := w.authorize(map[string][]rights.Access{"team/flink": rights.Grants(rights.Standalone, flinkconf.Supported)})
	p, err := policy.Parse([]byte("storageDir: s3://flink-ha/{namespace}/{clusterId}\nserviceAccount: flink-ha\n"))
	require.NoError(t, err)

	got, err := Run(ctx, w.clients(), Options{Policy: p})
	require.NoError(t, err)
	storage := func(cid string) string { return "s3://flink-ha/team/" + cid }
	ok := Verdict{Result: "ok"}
	assert.Equal(t, &Report{AtRisk: true, Clusters: []Cluster{
		{Namespace: "team", ClusterID: "gone", HAConfigMaps: []HAConfigMap{{Name: "gone-cluster-config-map"}}, Policy: Verdict{Result: "none"}},
		{Namespace: "team", ClusterID: "orders", Mode: fleet.Standalone, FlinkVersion: "1.18", HA: fleet.HAOn, StorageDir: storage("orders"),
			StoragePath: storage("orders/orders"), Account: "flink", Rights: "yes", Objects: []string{"Deployment/orders-jobmanager", "ConfigMap/orders-config"},
			HAConfigMaps: []HAConfigMap{{Name: "orders-00000000000000000000000000000001-config-map"},
				{Name: "orders-cluster-config-map", Owners: []string{"Deployment/orders-jobmanager"}}},
			Policy: ok, AtRisk: []string{RiskOwnedHAConfigMaps}, key: "team/ConfigMap/orders-config"},
		{Namespace: "team", ClusterID: "payments", Mode: fleet.Operator, FlinkVersion: "1.20", HA: fleet.HAOn, StorageDir: storage("payments"),
			StoragePath: storage("payments/payments"), Account: "nobody", Rights: "no: may not get configmaps, list configmaps, watch configmaps, " +
				"create configmaps, update configmaps, patch configmaps, delete configmaps, get pods, list pods, " +
				"watch pods, create pods, delete pods, get deployments.apps, delete deployments.apps, update deployments/finalizers.apps",
			Objects: []string{"FlinkDeployment/payments"}, Policy: ok, AtRisk: []string{RiskRights}, key: "team/native/payments"},
		{Namespace: "team", ClusterID: "reports", Mode: fleet.Standalone, FlinkVersion: "1.19", HA: fleet.HAOn, StorageDir: storage("reports"),
			StoragePath: storage("reports/reports"), Account: "flink", Rights: "yes", Objects: []string{"Job/reports", "ConfigMap/reports-config"},
			Policy: ok, AtRisk: []string{RiskCollision}, key: "team/ConfigMap/reports-config"},
		{Namespace: "team", ClusterID: "reports", Mode: fleet.Standalone, FlinkVersion: "1.19", HA: fleet.HAOn, StorageDir: storage("reports"),
			StoragePath: storage("reports/reports"), Account: "flink", Rights: "yes", Objects: []string{"StatefulSet/reports-v2", "ConfigMap/reports-v2-config"},
			Policy: ok, AtRisk: []string{RiskCollision}, key: "team/ConfigMap/reports-v2-config"},
		{Namespace: "team", ClusterID: "sessions", Mode: fleet.Native, FlinkVersion: "1.20", HA: fleet.HAOff, Account: "flink",
			Objects: []string{"Deployment/sessions", "ConfigMap/flink-config-sessions"}, Policy: ok, key: "team/native/sessions"},
	}, Collisions: []fleet.Collision{
		{Kind: fleet.SameClusterID, Value: "reports", First: fleet.Ref{Namespace: "team", Object: "Job/reports"}, Second: fleet.Ref{Namespace: "team", Object: "StatefulSet/reports-v2"}},
		{Kind: fleet.SameStoragePath, Value: storage("reports/reports"), First: fleet.Ref{Namespace: "team", Object: "Job/reports"}, Second: fleet.Ref{Namespace: "team", Object: "StatefulSet/reports-v2"}},
	}}, got)
	needs := func(m rights.Mode, v flinkconf.Version) int { return len(rights.Needs(m, flinkconf.Exactly(v))) }
	assert.Equal(t, needs(rights.Standalone, flinkconf.V1_18)+needs(rights.Standalone, flinkconf.V1_19)+needs(rights.Native, flinkconf.Version{Major: 1, Minor: 20}), *asked,
		"one review per need and account: flink at 1.18, flink at 1.19 once for both clusters, nobody natively")
}

// TestRightsFollowWhatTheJobManagerRuns: the audit asks an account for what
// the JobManager that runs under it does, as admission's check asks. A
// FlinkDeployment in standalone mode runs no native resource manager, so
// its account needs no pods; a native one on the host network also updates
// its Service.
func TestRightsFollowWhatTheJobManagerRuns(t *testing.T) {
	t.Parallel()
	fd := func(name, account, mode, hostNetwork string) string {
		return strings.NewReplacer("NAME", name, "ACCOUNT", account, "MODE", mode, "HOST", hostNetwork).Replace(`apiVersion: flink.apache.org/v1beta1
kind: FlinkDeployment
metadata: {name: NAME, namespace: team}
spec:
  image: flink:1.20
  flinkVersion: v1_20
  serviceAccount: ACCOUNT
  mode: MODE
  flinkConfiguration:
    high-availability.type: kubernetes
    high-availability.storageDir: s3://flink-ha/team/NAME
    kubernetes.hostnetwork.enabled: "HOST"`)
	}
	w := newWorld(t, fd("batch", "standalone-only", "standalone", "true")+"\n---\n"+fd("edge", "native-only", "native", "true")+"\n---\n"+
		fd("core", "native-only", "native", "false"))
	w.authorize(map[string][]rights.Access{
		"team/standalone-only": rights.Grants(rights.Standalone, flinkconf.Supported),
		"team/native-only":     rights.Grants(rights.Native, flinkconf.Supported),
	})
	p, err := policy.Parse([]byte("serviceAccount: flink-ha\n"))
	require.NoError(t, err)
	got, err := Run(context.Background(), w.clients(), Options{Policy: p})
	require.NoError(t, err)
	rightsOf := map[string]string{}
	for _, c := range got.Clusters {
		rightsOf[c.ClusterID] = c.Rights
	}
	assert.Equal(t, map[string]string{
		"batch": "yes",
		"edge":  "no: may not get services, update services",
		"core":  "yes",
	}, rightsOf)
}

package report

import (
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/flink-ha-webhook/flink-ha-webhook/audit"
	"github.com/flink-ha-webhook/flink-ha-webhook/fleet"
)

// gaugeNames are the audit's gauges but the timestamp of its last success.
var gaugeNames = []string{"flink_ha_webhook_clusters", "flink_ha_webhook_at_risk_ha_configmaps", "flink_ha_webhook_collisions",
	"flink_ha_webhook_at_risk_clusters"}

// gauges is the exposition of the audit's gauges with these values.
func gauges(on, off, zookeeper, custom, conflicting, ownedConfigMaps, sameID, samePath, atRisk int) string {
	return fmt.Sprintf(`# HELP flink_ha_webhook_at_risk_clusters Flink clusters the background audit found at risk, for any reason.
# TYPE flink_ha_webhook_at_risk_clusters gauge
flink_ha_webhook_at_risk_clusters %d
# HELP flink_ha_webhook_at_risk_ha_configmaps HA ConfigMaps with owner references, which the garbage collector deletes with their owner.
# TYPE flink_ha_webhook_at_risk_ha_configmaps gauge
flink_ha_webhook_at_risk_ha_configmaps %d
# HELP flink_ha_webhook_clusters Flink clusters the background audit found, by HA state (on, off, zookeeper, custom, conflicting).
# TYPE flink_ha_webhook_clusters gauge
flink_ha_webhook_clusters{ha="conflicting"} %d
flink_ha_webhook_clusters{ha="custom"} %d
flink_ha_webhook_clusters{ha="off"} %d
flink_ha_webhook_clusters{ha="on"} %d
flink_ha_webhook_clusters{ha="zookeeper"} %d
# HELP flink_ha_webhook_collisions Pairs of Flink clusters sharing a cluster-id in a namespace (cluster-id) or an HA storage path (storage-path).
# TYPE flink_ha_webhook_collisions gauge
flink_ha_webhook_collisions{kind="cluster-id"} %d
flink_ha_webhook_collisions{kind="storage-path"} %d
`, atRisk, ownedConfigMaps, conflicting, custom, off, on, zookeeper, sameID, samePath)
}

// The gauges are the process's own: the tests that set them do not run in
// parallel.
func TestPublish(t *testing.T) {
	owned := audit.HAConfigMap{Name: "x-cluster-config-map", Owners: []string{"Deployment/x"}}
	free := audit.HAConfigMap{Name: "y-cluster-config-map"}
	collision := func(k fleet.CollisionKind) fleet.Collision { return fleet.Collision{Kind: k} }
	cases := []struct {
		name   string
		report *audit.Report
		want   string
	}{
		{"a compliant cluster: one on, nothing at risk", &audit.Report{Clusters: []audit.Cluster{
			{Mode: fleet.Standalone, HA: fleet.HAOn, HAConfigMaps: []audit.HAConfigMap{free}},
		}}, gauges(1, 0, 0, 0, 0, 0, 0, 0, 0)},
		{"clusters by HA state; owned HA ConfigMaps, collisions by kind and clusters at risk counted", &audit.Report{Clusters: []audit.Cluster{
			{Mode: fleet.Standalone, HA: fleet.HAOn, HAConfigMaps: []audit.HAConfigMap{owned, free, owned}, AtRisk: []string{audit.RiskOwnedHAConfigMaps}},
			{Mode: fleet.Native, HA: fleet.HAOn, AtRisk: []string{audit.RiskCollision, audit.RiskRights}},
			{Mode: fleet.Operator, HA: fleet.HAOff},
			{Mode: fleet.Standalone, HA: fleet.HAZooKeeper},
			{Mode: fleet.Standalone, HA: fleet.HACustom},
			{Mode: fleet.Standalone, HA: fleet.HAConflicting, AtRisk: []string{audit.RiskConflicting}},
		}, Collisions: []fleet.Collision{collision(fleet.SameClusterID), collision(fleet.SameStoragePath), collision(fleet.SameStoragePath)}},
			gauges(2, 1, 1, 1, 1, 2, 1, 2, 3)},
		{"HA data of a gone cluster is no cluster, but its owned ConfigMaps count", &audit.Report{Clusters: []audit.Cluster{
			{HAConfigMaps: []audit.HAConfigMap{owned}, AtRisk: []string{audit.RiskOwnedHAConfigMaps}},
		}}, gauges(0, 0, 0, 0, 0, 1, 0, 0, 1)},
		{"an empty audit sets every series to zero, after one that counted", &audit.Report{}, gauges(0, 0, 0, 0, 0, 0, 0, 0, 0)},
	}
	for _, tc := range cases {
		publish(tc.report)
		assert.NoError(t, testutil.GatherAndCompare(metrics.Registry, strings.NewReader(tc.want), gaugeNames...), tc.name)
	}
}

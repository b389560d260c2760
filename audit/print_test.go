package audit

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/flink-ha-webhook/flink-ha-webhook/fleet"
)

func TestPrint(t *testing.T) {
	t.Parallel()
	collision := fleet.Collision{Kind: fleet.SameClusterID, Value: "reports",
		First: fleet.Ref{Namespace: "team", Object: "Job/reports"}, Second: fleet.Ref{Namespace: "team", Object: "StatefulSet/reports-v2"}}
	atRisk := &Report{AtRisk: true, Clusters: []Cluster{
		{Namespace: "team", ClusterID: "gone", HAConfigMaps: []HAConfigMap{{Name: "gone-cluster-config-map"}}, Policy: Verdict{Result: "none"}},
		{Namespace: "team", ClusterID: "orders", Mode: fleet.Standalone, FlinkVersion: "1.18", HA: fleet.HAOn, StorageDir: "s3://ha/orders",
			StoragePath: "s3://ha/orders/orders", Account: "flink", Rights: "no: may not delete configmaps",
			Objects: []string{"Deployment/orders-jobmanager", "ConfigMap/orders-config"},
			HAConfigMaps: []HAConfigMap{{Name: "orders-cluster-config-map", Owners: []string{"Deployment/orders-jobmanager"}},
				{Name: "orders-00000000000000000000000000000001-config-map"}},
			Policy: Verdict{Result: "deny", Changes: []string{"c1"}, Violations: []string{"v1", "v2"}},
			AtRisk: []string{RiskOwnedHAConfigMaps, RiskDenied, RiskRights}},
		{Namespace: "team", ClusterID: "reports", Mode: fleet.Standalone, FlinkVersion: "1.19", HA: fleet.HAOn, Account: "flink",
			Rights: "unknown: forbidden", Objects: []string{"Job/reports"}, Policy: Verdict{Result: "change", Changes: []string{"c1", "c2", "c3"}},
			AtRisk: []string{RiskCollision}},
		{Namespace: "team", ClusterID: "reports", Mode: fleet.Standalone, FlinkVersion: "1.19", HA: fleet.HAOn, Account: "flink",
			Rights: "yes", Objects: []string{"StatefulSet/reports-v2"}, Policy: Verdict{Result: "ok"}, AtRisk: []string{RiskCollision}},
	}, Collisions: []fleet.Collision{collision}}
	empty := &Report{Clusters: []Cluster{}, Collisions: []fleet.Collision{}}
	cases := map[string]struct {
		report *Report
		format string
		want   string
	}{
		"a table: a row per cluster, counts, the rights' verdict without its reasons, then the collisions": {atRisk, "table", `
NAMESPACE   CLUSTER-ID   MODE         FLINK    HA       STORAGE-DIR      ACCOUNT   HA-RIGHTS   HA-CONFIGMAPS   POLICY       AT-RISK
team        gone         <none>       <none>   <none>   <none>           <none>    <none>      1               none         <none>
team        orders       standalone   1.18     on       s3://ha/orders   flink     no          2 (1 owned)     deny (2)     owned-ha-configmaps,denied-by-policy,account-lacks-rights
team        reports      standalone   1.19     on       <none>           flink     unknown     0               change (3)   collision
team        reports      standalone   1.19     on       <none>           flink     yes         0               ok           collision

Collisions:
  ` + collision.Message() + "\n"},
		"an empty table says so":                            {empty, "table", "\nNo Flink clusters found.\n"},
		"YAML of an empty report lists nothing, as kubectl": {empty, "yaml", "\natRisk: false\nclusters: []\ncollisions: []\n"},
		"JSON of an empty report": {empty, "json", `
{
    "clusters": [],
    "collisions": [],
    "atRisk": false
}
`},
		"JSON of a cluster leaves out what is empty": {&Report{Clusters: atRisk.Clusters[:1], Collisions: []fleet.Collision{collision}}, "json", `
{
    "clusters": [
        {
            "namespace": "team",
            "clusterId": "gone",
            "haConfigMaps": [
                {
                    "name": "gone-cluster-config-map"
                }
            ],
            "policy": {
                "result": "none"
            }
        }
    ],
    "collisions": [
        {
            "kind": "cluster-id",
            "value": "reports",
            "first": {
                "namespace": "team",
                "object": "Job/reports"
            },
            "second": {
                "namespace": "team",
                "object": "StatefulSet/reports-v2"
            }
        }
    ],
    "atRisk": false
}
`},
		"YAML of a cluster at risk": {&Report{AtRisk: true, Clusters: atRisk.Clusters[1:2], Collisions: []fleet.Collision{}}, "yaml", `
atRisk: true
clusters:
- account: flink
  atRisk:
  - owned-ha-configmaps
  - denied-by-policy
  - account-lacks-rights
  clusterId: orders
  flinkVersion: "1.18"
  ha: "on"
  haConfigMaps:
  - name: orders-cluster-config-map
    owners:
    - Deployment/orders-jobmanager
  - name: orders-00000000000000000000000000000001-config-map
  mode: standalone
  namespace: team
  objects:
  - Deployment/orders-jobmanager
  - ConfigMap/orders-config
  policy:
    changes:
    - c1
    result: deny
    violations:
    - v1
    - v2
  rights: 'no: may not delete configmaps'
  storageDir: s3://ha/orders
  storagePath: s3://ha/orders/orders
collisions: []
`},
	}
	for name, tc := range cases {
		var out strings.Builder
		assert.NoError(t, Print(&out, tc.report, tc.format), name)
		assert.Equal(t, tc.want[1:], out.String(), name)
	}
	var out strings.Builder
	assert.EqualError(t, Print(&out, empty, "wide"), `output format "wide" is not one: use table, json, yaml`)
	assert.Equal(t, "", out.String(), "nothing printed in a format that is not one")
}

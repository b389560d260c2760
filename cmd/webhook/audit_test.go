package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/flink-ha-webhook/flink-ha-webhook/audit"
	"github.com/flink-ha-webhook/flink-ha-webhook/fleet"
)

// TestAuditCommandRefuses: what the audit says when it cannot look, with
// exit status 2. Not parallel: it empties $KUBECONFIG and $HOME.
func TestAuditCommandRefuses(t *testing.T) {
	dir := t.TempDir()
	kubeconfig := unreachableKubeconfig(t, dir)
	t.Setenv("KUBECONFIG", "")
	t.Setenv("HOME", dir)
	t.Setenv("KUBERNETES_SERVICE_HOST", "") // not in a pod
	missing := filepath.Join(dir, "missing.yaml")
	badPolicy := filepath.Join(dir, "policy.yaml")
	assert.NoError(t, os.WriteFile(badPolicy, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"), 0o600))

	cases := map[string]struct {
		args   []string
		stderr string
	}{
		"an output format that does not exist": {
			args:   []string{"-o", "wide"},
			stderr: "flink-ha-webhook: --output \"wide\" is not a format: use table, json or yaml\n",
		},
		"a flag audit does not have is named, and the usage follows": {
			args:   []string{"--watch"},
			stderr: "flag provided but not defined: -watch\nUsage of audit:\n",
		},
		"a policy file that is not there": {
			args:   []string{"--policy", missing},
			stderr: "flink-ha-webhook: reading the policy: open " + missing + ": no such file or directory\n",
		},
		"a policy file with a document that is not a policy": {
			args: []string{"--policy", badPolicy},
			stderr: "flink-ha-webhook: policy " + badPolicy + ": document 1: v1 ConfigMap is not a policy; " +
				"expected flink-ha-webhook.io/v1alpha1/FlinkHAPolicy\n",
		},
		"a kubeconfig that is not there": {
			args:   []string{"--kubeconfig", missing},
			stderr: "flink-ha-webhook: no cluster to audit (--kubeconfig, $KUBECONFIG or ~/.kube/config): stat " + missing + ": no such file or directory\n",
		},
		"no kubeconfig anywhere": {
			stderr: "flink-ha-webhook: no cluster to audit (--kubeconfig, $KUBECONFIG or ~/.kube/config): " +
				"invalid configuration: no configuration has been provided, try setting KUBERNETES_MASTER environment variable\n",
		},
		"a context the kubeconfig does not have": {
			args:   []string{"--kubeconfig", kubeconfig, "--context", "production"},
			stderr: "flink-ha-webhook: no cluster to audit (--kubeconfig, $KUBECONFIG or ~/.kube/config): context \"production\" does not exist\n",
		},
		"an API server that does not answer, asked for one namespace in pages of --chunk-size": {
			args: []string{"--kubeconfig", kubeconfig, "-n", "analytics", "--chunk-size", "7"},
			stderr: "flink-ha-webhook: listing ConfigMaps: Get \"https://127.0.0.1:1/api/v1/namespaces/analytics/configmaps?limit=7\": " +
				"dial tcp 127.0.0.1:1: connect: connection refused\n",
		},
	}
	for name, tc := range cases {
		assertRefused(t, name, append([]string{"audit"}, tc.args...), nil, nil, tc.stderr)
	}
}

func TestPrintReport(t *testing.T) {
	t.Parallel()
	report := &audit.Report{
		Clusters: []audit.Cluster{
			{Namespace: "analytics", ClusterID: "gone", HAConfigMaps: []audit.HAConfigMap{{Name: "gone-cluster-config-map"}}, Policy: audit.Verdict{Result: "none"}},
			{
				Namespace: "analytics", ClusterID: "orders", Mode: fleet.Standalone, FlinkVersion: "1.18", HA: fleet.HAOn,
				StorageDir: "s3://flink-ha/analytics/orders", Account: "flink", Rights: "yes", Objects: []string{"ConfigMap/orders"},
				HAConfigMaps: []audit.HAConfigMap{
					{Name: "orders-cluster-config-map", Owners: []string{"Deployment/orders-jm"}},
					{Name: "orders-00000000000000000000000000000000-config-map"},
				},
				Policy: audit.Verdict{Result: "ok"}, AtRisk: []string{audit.RiskOwnedHAConfigMaps},
			},
			{
				Namespace: "analytics", ClusterID: "payments", Mode: fleet.Operator, FlinkVersion: "1.20", HA: fleet.HAOn,
				StorageDir: "s3://flink-ha/analytics/payments", Account: "nobody", Rights: "no: may not update configmaps",
				Policy: audit.Verdict{Result: "change", Changes: []string{"set a", "set b"}},
				AtRisk: []string{audit.RiskRights, audit.RiskCollision},
			},
			{
				Namespace: "billing", ClusterID: "payments", Mode: fleet.Native, HA: fleet.HAZooKeeper,
				Policy: audit.Verdict{Result: "deny", Changes: []string{"set a"}, Violations: []string{"zookeeper"}},
				AtRisk: []string{audit.RiskDenied},
			},
		},
		Collisions: []fleet.Collision{{
			Kind: fleet.SameStoragePath, Value: "s3://flink-ha/analytics/payments",
			First:  fleet.Ref{Namespace: "analytics", Object: "FlinkDeployment/payments"},
			Second: fleet.Ref{Namespace: "billing", Object: "Deployment/payments"},
		}},
		AtRisk: true,
	}
	empty := &audit.Report{Clusters: []audit.Cluster{}, Collisions: []fleet.Collision{}}
	cases := map[string]struct {
		report *audit.Report
		output string
		want   string
	}{
		"a table says when there are no clusters": {report: empty, output: "table", want: "No Flink clusters found.\n"},
		"a table row per cluster, counting owned HA ConfigMaps, changes or violations, and collisions below": {
			report: report, output: "table",
			want: "NAMESPACE   CLUSTER-ID   MODE         FLINK    HA          STORAGE-DIR                        ACCOUNT   HA-RIGHTS   HA-CONFIGMAPS   POLICY       AT-RISK\n" +
				"analytics   gone         <none>       <none>   <none>      <none>                             <none>    <none>      1               none         <none>\n" +
				"analytics   orders       standalone   1.18     on          s3://flink-ha/analytics/orders     flink     yes         2 (1 owned)     ok           owned-ha-configmaps\n" +
				"analytics   payments     operator     1.20     on          s3://flink-ha/analytics/payments   nobody    no          0               change (2)   account-lacks-rights,collision\n" +
				"billing     payments     native       <none>   zookeeper   <none>                             <none>    <none>      0               deny (1)     denied-by-policy\n" +
				"\nCollisions:\n" +
				"  Deployment/payments in namespace billing and FlinkDeployment/payments in namespace analytics both keep their HA data in " +
				"s3://flink-ha/analytics/payments: they overwrite each other's job graphs and checkpoint pointers; " +
				"give each its own high-availability.storageDir or high-availability.cluster-id\n",
		},
		"json of no clusters lists none": {
			report: empty, output: "json",
			want: "{\n    \"clusters\": [],\n    \"collisions\": [],\n    \"atRisk\": false\n}\n",
		},
		"yaml of no clusters lists none": {
			report: empty, output: "yaml",
			want: "atRisk: false\nclusters: []\ncollisions: []\n",
		},
		"json says what the account lacks and lists the changes": {
			report: &audit.Report{Clusters: report.Clusters[2:3], Collisions: []fleet.Collision{}, AtRisk: true}, output: "json",
			want: `{
    "clusters": [
        {
            "namespace": "analytics",
            "clusterId": "payments",
            "mode": "operator",
            "flinkVersion": "1.20",
            "ha": "on",
            "storageDir": "s3://flink-ha/analytics/payments",
            "account": "nobody",
            "rights": "no: may not update configmaps",
            "policy": {
                "result": "change",
                "changes": [
                    "set a",
                    "set b"
                ]
            },
            "atRisk": [
                "account-lacks-rights",
                "collision"
            ]
        }
    ],
    "collisions": [],
    "atRisk": true
}
`,
		},
		// "1.20" and "on" stay strings for YAML 1.1 readers.
		"yaml says what the account lacks and lists the changes": {
			report: &audit.Report{Clusters: report.Clusters[2:3], Collisions: []fleet.Collision{}, AtRisk: true}, output: "yaml",
			want: `atRisk: true
clusters:
- account: nobody
  atRisk:
  - account-lacks-rights
  - collision
  clusterId: payments
  flinkVersion: "1.20"
  ha: "on"
  mode: operator
  namespace: analytics
  policy:
    changes:
    - set a
    - set b
    result: change
  rights: 'no: may not update configmaps'
  storageDir: s3://flink-ha/analytics/payments
collisions: []
`,
		},
	}
	for name, tc := range cases {
		var out bytes.Buffer
		assert.NoError(t, audit.Print(&out, tc.report, tc.output), name)
		assert.Equal(t, tc.want, out.String(), name)
	}
}

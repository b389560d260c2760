package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/flink-ha-webhook/flink-ha-webhook/audit"
	"github.com/flink-ha-webhook/flink-ha-webhook/fleet"
	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
	"github.com/flink-ha-webhook/flink-ha-webhook/rights"
)

const auditPolicy = `storageDir: s3://flink-ha/{namespace}/{clusterId}
serviceAccount: flink-ha
`

// TestAuditFindsEveryClusterAndWhatPutsItAtRisk deploys Flink clusters
// three ways, one with owned HA ConfigMaps, one under an account without
// HA rights and a pair sharing a cluster-id, and audits them under an
// account that may only get, list and watch: every row, the collisions
// and a non-zero exit, and not one object changed.
func TestAuditFindsEveryClusterAndWhatPutsItAtRisk(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns := deploy(ctx, t)
	dir := t.TempDir()
	policyFile := filepath.Join(dir, "policy.yaml")
	require.NoError(t, os.WriteFile(policyFile, []byte(auditPolicy), 0o600))
	reader := kubeconfigAs(t, dir, "flink-auditor", false)
	before := versions(ctx, t, ns)

	stdout, stderr, code := run(t, "audit", "--kubeconfig", reader, "--policy", policyFile, "-n", ns)
	assert.Equal(t, 1, code, "clusters at risk: %s", stderr)
	assert.Equal(t, "", stderr)
	// This account may not ask the authorizer about others' rights: the
	// audit says it does not know, and does not call that a risk.
	want := strings.ReplaceAll(`NAMESPACE   CLUSTER-ID   MODE         FLINK     HA    STORAGE-DIR                   ACCOUNT   HA-RIGHTS   HA-CONFIGMAPS   POLICY       AT-RISK
NS          gone         <none>       <none>    <none>   <none>                        <none>    <none>      1               none         <none>
NS          orders       standalone   1.18      on    s3://flink-ha/NS/orders       flink     unknown     2 (1 owned)     ok           owned-ha-configmaps
NS          payments     operator     1.20      on    s3://flink-ha/NS/payments     nobody    unknown     0               ok           <none>
NS          reports      standalone   1.19      on    s3://flink-ha/NS/reports      flink     unknown     0               ok           collision
NS          reports      standalone   1.19      on    s3://flink-ha/NS/reports      flink     unknown     0               ok           collision
NS          sessions     native       1.20      off   <none>                        flink     <none>      0               ok           <none>

Collisions:
  StatefulSet/reports-v2 in namespace NS and Job/reports in namespace NS both use cluster-id "reports": two clusters with one cluster-id in a namespace fight over leadership and recover each other's jobs; give one of them another kubernetes.cluster-id (a FlinkDeployment's is its name)
  StatefulSet/reports-v2 in namespace NS and Job/reports in namespace NS both keep their HA data in s3://flink-ha/NS/reports/reports: they overwrite each other's job graphs and checkpoint pointers; give each its own high-availability.storageDir or high-availability.cluster-id
`, "NS", ns)
	assert.Equal(t, columns(want), columns(stdout), stdout)
	assert.Equal(t, before, versions(ctx, t, ns), "the audit must not change a single object")

	asker := kubeconfigAs(t, dir, "flink-auditor-sar", true)
	stdout, stderr, code = run(t, "audit", "--kubeconfig", asker, "--policy", policyFile, "-n", ns, "-o", "json", "--chunk-size", "2")
	assert.Equal(t, 1, code, stderr)
	assert.Contains(t, stderr, "listing ConfigMaps: 2 so far\nlisting ConfigMaps: 4 so far\n", "pages of 2 show progress")
	var report audit.Report
	require.NoError(t, json.Unmarshal([]byte(stdout), &report), stdout)
	storage := func(cid string) string { return "s3://flink-ha/" + ns + "/" + cid }
	verdict := audit.Verdict{Result: "ok"}
	assert.Equal(t, audit.Report{AtRisk: true, Clusters: []audit.Cluster{
		{Namespace: ns, ClusterID: "gone", HAConfigMaps: []audit.HAConfigMap{{Name: "gone-cluster-config-map"}}, Policy: audit.Verdict{Result: "none"}},
		{Namespace: ns, ClusterID: "orders", Mode: fleet.Standalone, FlinkVersion: "1.18", HA: fleet.HAOn, StorageDir: storage("orders"),
			StoragePath: storage("orders/orders"), Account: "flink", Rights: "yes", Objects: []string{"Deployment/orders-jobmanager", "ConfigMap/orders-config"},
			HAConfigMaps: []audit.HAConfigMap{{Name: "orders-00000000000000000000000000000001-config-map"},
				{Name: "orders-cluster-config-map", Owners: []string{"Deployment/orders-jobmanager"}}},
			Policy: verdict, AtRisk: []string{audit.RiskOwnedHAConfigMaps}},
		{Namespace: ns, ClusterID: "payments", Mode: fleet.Operator, FlinkVersion: "1.20", HA: fleet.HAOn, StorageDir: storage("payments"),
			StoragePath: storage("payments/payments"), Account: "nobody", Rights: "no: may not get configmaps, list configmaps, watch configmaps, " +
				"create configmaps, update configmaps, patch configmaps, delete configmaps, get pods, list pods, " +
				"watch pods, create pods, delete pods, get deployments.apps, delete deployments.apps, update deployments/finalizers.apps",
			Objects: []string{"FlinkDeployment/payments"}, Policy: verdict, AtRisk: []string{audit.RiskRights}},
		{Namespace: ns, ClusterID: "reports", Mode: fleet.Standalone, FlinkVersion: "1.19", HA: fleet.HAOn, StorageDir: storage("reports"),
			StoragePath: storage("reports/reports"), Account: "flink", Rights: "yes", Objects: []string{"Job/reports", "ConfigMap/reports-config"},
			Policy: verdict, AtRisk: []string{audit.RiskCollision}},
		{Namespace: ns, ClusterID: "reports", Mode: fleet.Standalone, FlinkVersion: "1.19", HA: fleet.HAOn, StorageDir: storage("reports"),
			StoragePath: storage("reports/reports"), Account: "flink", Rights: "yes", Objects: []string{"StatefulSet/reports-v2", "ConfigMap/reports-v2-config"},
			Policy: verdict, AtRisk: []string{audit.RiskCollision}},
		{Namespace: ns, ClusterID: "sessions", Mode: fleet.Native, FlinkVersion: "1.20", HA: fleet.HAOff, Account: "flink",
			Objects: []string{"Deployment/sessions", "ConfigMap/flink-config-sessions"}, Policy: verdict},
	}, Collisions: []fleet.Collision{
		{Kind: fleet.SameClusterID, Value: "reports", First: fleet.Ref{Namespace: ns, Object: "Job/reports"}, Second: fleet.Ref{Namespace: ns, Object: "StatefulSet/reports-v2"}},
		{Kind: fleet.SameStoragePath, Value: storage("reports/reports"), First: fleet.Ref{Namespace: ns, Object: "Job/reports"}, Second: fleet.Ref{Namespace: ns, Object: "StatefulSet/reports-v2"}},
	}}, report)
	assert.Equal(t, before, versions(ctx, t, ns), "the audit must not change a single object")
}

// TestAuditWithNothingAtRisk exits 0 and says so, in YAML too.
func TestAuditWithNothingAtRisk(t *testing.T) {
	ns := plane.Namespace(t)
	stdout, stderr, code := run(t, "audit", "--kubeconfig", plane.Kubeconfig, "-n", ns)
	assert.Equal(t, 0, code, stderr)
	assert.Equal(t, "No Flink clusters found.\n", stdout)
	stdout, _, code = run(t, "audit", "--kubeconfig", plane.Kubeconfig, "-n", ns, "-o", "yaml")
	assert.Equal(t, 0, code)
	assert.Equal(t, "atRisk: false\nclusters: []\ncollisions: []\n", stdout)
	_, stderr, code = run(t, "audit", "--kubeconfig", plane.Kubeconfig, "-o", "wide")
	assert.Equal(t, 2, code)
	assert.Equal(t, "flink-ha-webhook: --output \"wide\" is not a format: use table, json or yaml\n", stderr)
}

// columns splits a table into the fields of its lines: the widths depend
// on the namespace's random name.
func columns(table string) [][]string {
	var out [][]string
	for _, l := range strings.Split(table, "\n") {
		out = append(out, strings.Fields(l))
	}
	return out
}

// deploy creates a namespace with the clusters of testdata/clusters.yaml,
// an account "flink" bound to exactly HA's rights, and an owner reference
// on one HA ConfigMap, as some operators add.
func deploy(ctx context.Context, t *testing.T) string {
	ns := plane.Namespace(t)
	core, rbac := plane.Clientset.CoreV1(), plane.Clientset.RbacV1()
	_, err := core.ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "flink"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = rbac.Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "flink-ha"}, Rules: rights.Rules(rights.Standalone, flinkconf.Supported)}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = rbac.RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "flink-ha"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "flink", Namespace: ns}},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "flink-ha"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	manifests, err := os.ReadFile("testdata/clusters.yaml")
	require.NoError(t, err)
	_, _, err = plane.Kubectl(ctx, strings.ReplaceAll(string(manifests), "NAMESPACE", ns), "--namespace", ns, "apply", "-f", "-")
	require.NoError(t, err)
	owner, err := plane.Clientset.AppsV1().Deployments(ns).Get(ctx, "orders-jobmanager", metav1.GetOptions{})
	require.NoError(t, err)
	patch := `{"metadata":{"ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":"orders-jobmanager","uid":"` + string(owner.UID) + `"}]}}`
	_, err = core.ConfigMaps(ns).Patch(ctx, "orders-cluster-config-map", types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	require.NoError(t, err)
	return ns
}

// kubeconfigAs writes a kubeconfig that acts as user, who may get, list
// and watch everything and, with sar, ask the authorizer about others.
func kubeconfigAs(t *testing.T, dir, user string, sar bool) string {
	ctx := context.Background()
	rules := []rbacv1.PolicyRule{{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"get", "list", "watch"}}}
	if sar {
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}})
	}
	rbac := plane.Clientset.RbacV1()
	_, err := rbac.ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: user}, Rules: rules}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = rbac.ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: user},
		Subjects: []rbacv1.Subject{{Kind: "User", Name: user, APIGroup: rbacv1.GroupName}},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: user}}, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = rbac.ClusterRoleBindings().Delete(ctx, user, metav1.DeleteOptions{})
		_ = rbac.ClusterRoles().Delete(ctx, user, metav1.DeleteOptions{})
	})
	cfg, err := clientcmd.LoadFromFile(plane.Kubeconfig)
	require.NoError(t, err)
	for _, a := range cfg.AuthInfos {
		a.Impersonate = user
	}
	path := filepath.Join(dir, user+".kubeconfig")
	require.NoError(t, clientcmd.WriteToFile(*cfg, path))
	return path
}

// versions are the resourceVersions of every object the audit reads in ns.
func versions(ctx context.Context, t *testing.T, ns string) map[string]string {
	out := map[string]string{}
	cms, err := plane.Clientset.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for _, o := range cms.Items {
		out["ConfigMap/"+o.Name] = o.ResourceVersion
	}
	ds, err := plane.Clientset.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for _, o := range ds.Items {
		out["Deployment/"+o.Name] = o.ResourceVersion
	}
	fds, _, err := plane.Kubectl(ctx, "", "--namespace", ns, "get", "flinkdeployments", "-o", "jsonpath={range .items[*]}{.metadata.name}={.metadata.resourceVersion} {end}")
	require.NoError(t, err)
	out["FlinkDeployments"] = fds
	return out
}

func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	cmd := exec.Command(bin, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return out.String(), errOut.String(), exit.ExitCode()
	}
	require.NoError(t, err)
	return out.String(), errOut.String(), 0
}

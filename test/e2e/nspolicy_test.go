package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestNamespacePoliciesApplyWithoutRestart puts two namespaces under two
// FlinkHAPolicies and expects two different storageDirs, then changes one
// policy and expects the next admission to follow it, with the webhook
// still running; an invalid policy is refused naming every problem.
func TestNamespacePoliciesApplyWithoutRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, b := plane.Namespace(t), plane.Namespace(t)
	for ns, team := range map[string]string{a: "a", b: "b"} {
		_, err := plane.Clientset.CoreV1().Namespaces().Patch(ctx, ns, types.MergePatchType,
			[]byte(`{"metadata":{"labels":{"flink-team":"`+team+`"}}}`), metav1.PatchOptions{})
		require.NoError(t, err)
	}
	policyFor := func(team, storageDir string) string {
		return `apiVersion: flink-ha-webhook.io/v1alpha1
kind: FlinkHAPolicy
metadata: {name: e2e-team-` + team + `}
spec:
  namespaceSelector: {matchLabels: {flink-team: ` + team + `}}
  storageDir: ` + storageDir + `
`
	}
	t.Cleanup(func() {
		_, _, _ = plane.Kubectl(context.Background(), "", "delete", "flinkhapolicies", "e2e-team-a", "e2e-team-b", "--ignore-not-found")
	})
	_, _, err := plane.Kubectl(ctx, policyFor("a", "s3://team-a/{namespace}/{clusterId}")+"---\n"+policyFor("b", "gs://team-b/{clusterId}"), "apply", "-f", "-")
	require.NoError(t, err)

	storageDir := func(ns, name string) string {
		cm, err := plane.Clientset.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
		require.NoError(t, err)
		for _, l := range strings.Split(cm.Data["flink-conf.yaml"], "\n") {
			if v, ok := strings.CutPrefix(l, "high-availability.storageDir: "); ok {
				return v
			}
		}
		return ""
	}
	apply := func(ns, name string) string {
		_, errOut, err := kubectlIn(ctx, ns, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: "+name+"}\ndata:\n  flink-conf.yaml: |\n    kubernetes.cluster-id: "+name+"\n",
			"apply", "-f", "-")
		require.NoError(t, err, errOut)
		return storageDir(ns, name)
	}
	require.Eventually(t, func() bool {
		return apply(a, "probe") == "s3://team-a/"+a+"/probe"
	}, 10*time.Second, 200*time.Millisecond, "the webhook's cache has the policies")
	assert.Equal(t, "s3://team-a/"+a+"/orders", apply(a, "orders"))
	assert.Equal(t, "gs://team-b/orders", apply(b, "orders"))
	other := plane.Namespace(t)
	assert.Equal(t, "s3://flink-ha/"+other+"/orders", apply(other, "orders"), "a namespace no policy selects keeps the policy file's")

	_, _, err = plane.Kubectl(ctx, policyFor("a", "s3://team-a-v2/{namespace}/{clusterId}"), "apply", "-f", "-")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, _, _ = kubectlIn(ctx, a, "", "delete", "configmap", "billing", "--ignore-not-found")
		return apply(a, "billing") == "s3://team-a-v2/"+a+"/billing"
	}, 10*time.Second, 200*time.Millisecond, "the changed policy applies to the next admission")

	_, errOut, err := plane.Kubectl(ctx, `apiVersion: flink-ha-webhook.io/v1alpha1
kind: FlinkHAPolicy
metadata: {name: e2e-invalid}
spec:
  namespaceSelector: {matchExpressions: [{key: flink-team, operator: In}]}
  storageDir: "bucket/{team}"
  serviceAccount: default
  mode: sometimes
`, "apply", "-f", "-")
	require.Error(t, err)
	// The API server names the problems in no fixed order.
	var problems []string
	for _, l := range strings.Split(strings.TrimSpace(errOut), "\n") {
		problems = append(problems, strings.TrimSpace(l))
	}
	slices.Sort(problems)
	assert.Equal(t, []string{
		`* spec.mode: Invalid value: "sometimes": must be all or opt-in`,
		`* spec.namespaceSelector.matchExpressions[0].values: Invalid value: In and NotIn need values; Exists and DoesNotExist take none`,
		`* spec.serviceAccount: Invalid value: "default": the default account is the one the webhook replaces; name a dedicated account`,
		`* spec.storageDir: Invalid value: "bucket/{team}": has an unknown placeholder; use {namespace} and {clusterId}`,
		`* spec.storageDir: Invalid value: "bucket/{team}": must be a URI with a scheme, such as s3://bucket/flink-ha/{namespace}/{clusterId}`,
		`* spec.storageDir: Invalid value: "bucket/{team}": must contain {clusterId}: clusters sharing one storageDir recover each other's jobs`,
		`The FlinkHAPolicy "e2e-invalid" is invalid:`,
	}, problems, "every problem is named at once")
}

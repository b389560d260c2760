package latecrd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/flink-ha-webhook/flink-ha-webhook/test/controlplane"
)

var (
	plane  *controlplane.Plane
	server *controlplane.WebhookServer
)

// The webhook runs as installed: under its own account with the install's
// RBAC (manifests/rbac*.yaml, through the API server's impersonation and
// its authorizer), so that nothing it does here needs rights the install
// does not give; with --leader-elect, its reconcilers running in the
// elected replica. It looks for the CRD every second rather than every 30.
func TestMain(m *testing.M) {
	os.Exit(controlplane.Run(m, controlplane.Options{
		CRDDirectories:     []string{"../../manifests/crds"},
		WebhookDirectories: []string{"../../manifests/webhook"},
	}, &plane, func(p *controlplane.Plane) (func(), error) {
		dir, err := os.MkdirTemp("", "flink-ha-webhook-latecrd-")
		if err != nil {
			return nil, err
		}
		bin, err := controlplane.BuildWebhook(dir)
		if err != nil {
			return nil, err
		}
		kubeconfig, err := asInstalled(p, dir)
		if err != nil {
			return nil, err
		}
		admin := p.Kubeconfig
		p.Kubeconfig = kubeconfig // only for the server's own connection
		server, err = p.ServeWebhookOn(bin, "storageDir: s3://flink-ha/{namespace}/{clusterId}\nserviceAccount: flink\n", p.Webhook.Port,
			"--leader-elect", "--leader-election-namespace=flink-ha-webhook", "--crd-discovery-interval=1s")
		p.Kubeconfig = admin
		if err != nil {
			return nil, fmt.Errorf("starting the webhook: %w", err)
		}
		return func() { server.Stop(); os.RemoveAll(dir) }, nil
	}))
}

// asInstalled applies the install's namespace and RBAC and writes, into
// dir, a kubeconfig that acts as the webhook's own account.
func asInstalled(p *controlplane.Plane, dir string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, f := range []string{"namespace.yaml", "rbac.yaml", "rbac-policies.yaml", "rbac-reports.yaml"} {
		if _, _, err := p.Kubectl(ctx, "", "apply", "--namespace", "flink-ha-webhook", "-f", filepath.Join("..", "..", "manifests", f)); err != nil {
			return "", err
		}
	}
	kc, err := clientcmd.LoadFromFile(p.Kubeconfig)
	if err != nil {
		return "", err
	}
	for _, auth := range kc.AuthInfos {
		auth.Impersonate = "system:serviceaccount:flink-ha-webhook:flink-ha-webhook"
		auth.ImpersonateGroups = []string{"system:serviceaccounts", "system:serviceaccounts:flink-ha-webhook", "system:authenticated"}
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	return kubeconfig, clientcmd.WriteToFile(*kc, kubeconfig)
}

// watchingNow is what serve logs once it watches FlinkDeployments whose
// CRD was installed after it started.
const watchingNow = `"the API server serves FlinkDeployments now: watching them"`

// TestFlinkDeploymentsOfAnOperatorInstalledLaterAreWatched installs the
// FlinkDeployment CRD while the webhook runs, then a FlinkDeployment:
// without a restart, the account reconciler makes its account, bound to
// native Flink's rights, and a ConfigMap that takes its cluster-id is
// denied, naming it. serve says so once. The CRD deleted again, serve
// stays up and the cluster-id is free.
func TestFlinkDeploymentsOfAnOperatorInstalledLaterAreWatched(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns := plane.Namespace(t)
	kubectl := func(stdin string, args ...string) (string, error) {
		_, errOut, err := plane.Kubectl(ctx, stdin, append([]string{"--namespace", ns}, args...)...)
		return errOut, err
	}
	assert.Contains(t, server.Logs.String(), `"not watching FlinkDeployments until their CRD is installed"`)
	assert.NotContains(t, server.Logs.String(), watchingNow, "nothing is watched before the CRD is there")

	out, err := kubectl("", "apply", "-f", "../e2e/testdata/crds/flinkdeployments.yaml")
	require.NoError(t, err, out)
	out, err = kubectl("", "wait", "--for=condition=Established", "--timeout=60s", "crd/flinkdeployments.flink.apache.org")
	require.NoError(t, err, out)
	// The operator's basic example, under the account "flink" (the
	// policy's), native: the operator's default mode.
	example, err := os.ReadFile("../../handler/testdata/flinkdeployment-flat.in.yaml")
	require.NoError(t, err)
	out, err = kubectl(string(example), "apply", "-f", "-")
	require.NoError(t, err, out)

	rbac := plane.Clientset.RbacV1().RoleBindings(ns)
	require.Eventually(t, func() bool {
		_, errSA := plane.Clientset.CoreV1().ServiceAccounts(ns).Get(ctx, "flink", metav1.GetOptions{})
		_, errStandalone := rbac.Get(ctx, "flink", metav1.GetOptions{})
		_, errNative := rbac.Get(ctx, "flink-native", metav1.GetOptions{})
		return errSA == nil && errStandalone == nil && errNative == nil
	}, 30*time.Second, 100*time.Millisecond, "the FlinkDeployment's account and both bindings are made: %s", server.Logs)

	path := "s3://flink-ha/" + ns + "/basic-example/basic-example"
	var denial string
	require.Eventually(t, func() bool {
		denial, err = kubectl("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: copy}\ndata:\n  flink-conf.yaml: |\n    kubernetes.cluster-id: basic-example\n",
			"apply", "-f", "-")
		return err != nil
	}, 10*time.Second, 100*time.Millisecond, "a ConfigMap taking the FlinkDeployment's cluster-id is denied")
	_, denial, _ = strings.Cut(denial, "The ConfigMap") // after the mutating rules' warnings
	assert.Equal(t, ` "copy" is invalid: 
* metadata.annotations[flink-ha-webhook/cluster-id]: Invalid value: "basic-example": cluster-id "basic-example" is already used by FlinkDeployment/basic-example in namespace `+ns+`: two clusters with one cluster-id fight over leadership and recover each other's jobs; give this cluster another kubernetes.cluster-id (a FlinkDeployment's is its name)
* metadata.annotations[flink-ha-webhook/ha-storage-path]: Invalid value: "`+path+`": HA storage path `+path+` is already used by FlinkDeployment/basic-example in namespace `+ns+`: clusters sharing it overwrite each other's job graphs and checkpoint pointers; give this cluster its own high-availability.storageDir or high-availability.cluster-id
`, denial)
	assert.Equal(t, 1, strings.Count(server.Logs.String(), watchingNow), "serve says once that it watches FlinkDeployments now")

	// The operator uninstalled: its CRD goes, with every FlinkDeployment.
	// serve carries on, and the cluster-id is free again.
	out, err = kubectl("", "delete", "--wait", "-f", "../e2e/testdata/crds/flinkdeployments.yaml")
	require.NoError(t, err, out)
	require.Eventually(t, func() bool {
		denial, err = kubectl("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: copy}\ndata:\n  flink-conf.yaml: |\n    kubernetes.cluster-id: basic-example\n",
			"apply", "-f", "-")
		return err == nil
	}, 10*time.Second, 100*time.Millisecond, "with the FlinkDeployment gone, its cluster-id is free: %s", denial)
	assert.Never(t, func() bool { return !server.Ready() }, 3*time.Second, 100*time.Millisecond, "serve stays up and ready: %s", server.Logs)
}

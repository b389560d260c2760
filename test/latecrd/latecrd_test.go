package latecrd

import (
	"context"
	"fmt"
	"net"
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
	plane *controlplane.Plane
	// leader is elected first and serves no admission; server, on the
	// endpoint of the webhook configurations, waits to be elected.
	leader, server *controlplane.WebhookServer
)

// testPolicy is the policy of both replicas.
const testPolicy = "storageDir: s3://flink-ha/{namespace}/{clusterId}\nserviceAccount: flink\n"

// The webhook runs as installed: two replicas with --leader-elect, under
// their own account with the install's RBAC (manifests/rbac*.yaml, through
// the API server's impersonation and its authorizer), so that nothing
// they do here needs rights the install does not give. They look for the
// CRD every second rather than every 30.
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
		p.Kubeconfig = kubeconfig // only for the servers' own connections
		defer func() { p.Kubeconfig = admin }()
		flags := []string{"--leader-elect", "--leader-election-namespace=flink-ha-webhook", "--crd-discovery-interval=1s"}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if leader, err = p.ServeWebhookOn(bin, testPolicy, port, flags...); err != nil {
			return nil, fmt.Errorf("starting the first replica: %w", err)
		}
		for deadline := time.Now().Add(30 * time.Second); !strings.Contains(leader.Logs.String(), elected); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				leader.Stop()
				return nil, fmt.Errorf("the first replica was not elected within 30s: %s", leader.Logs)
			}
		}
		if server, err = p.ServeWebhookOn(bin, testPolicy, p.Webhook.Port, flags...); err != nil {
			leader.Stop()
			return nil, fmt.Errorf("starting the second replica: %w", err)
		}
		return func() { server.Stop(); leader.Stop(); os.RemoveAll(dir) }, nil
	}))
}

// elected is what a replica logs once elected.
const elected = `"Successfully acquired lease"`

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
// FlinkDeployment CRD while both replicas run, then a FlinkDeployment:
// without a restart, the elected replica's account reconciler makes its
// account, bound to native Flink's rights, and a ConfigMap that takes its
// cluster-id is denied, naming it, by the replica not elected. Each says
// so once. The elected replica stopped, the other, elected now, makes the
// account of a FlinkDeployment in another namespace. The CRD deleted
// again, serve stays up and the cluster-id is free.
func TestFlinkDeploymentsOfAnOperatorInstalledLaterAreWatched(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns, other := plane.Namespace(t), plane.Namespace(t)
	kubectl := func(ns, stdin string, args ...string) (string, error) {
		_, errOut, err := plane.Kubectl(ctx, stdin, append([]string{"--namespace", ns}, args...)...)
		return errOut, err
	}
	for _, s := range []*controlplane.WebhookServer{leader, server} {
		assert.Contains(t, s.Logs.String(), `"not watching FlinkDeployments until their CRD is installed"`)
		assert.NotContains(t, s.Logs.String(), watchingNow, "nothing is watched before the CRD is there")
	}
	assert.NotContains(t, server.Logs.String(), elected, "the second replica waits")

	out, err := kubectl(ns, "", "apply", "-f", crd)
	require.NoError(t, err, out)
	out, err = kubectl(ns, "", "wait", "--for=condition=Established", "--timeout=60s", "crd/flinkdeployments.flink.apache.org")
	require.NoError(t, err, out)
	// The operator's basic example, under the account "flink" (the
	// policy's), native: the operator's default mode.
	example, err := os.ReadFile("../../handler/testdata/flinkdeployment-flat.in.yaml")
	require.NoError(t, err)
	out, err = kubectl(ns, string(example), "apply", "-f", "-")
	require.NoError(t, err, out)
	accountMade(ctx, t, ns, leader)

	path := "s3://flink-ha/" + ns + "/basic-example/basic-example"
	copyOf := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: copy}\ndata:\n  flink-conf.yaml: |\n    kubernetes.cluster-id: basic-example\n"
	var denial string
	require.Eventually(t, func() bool {
		denial, err = kubectl(ns, copyOf, "apply", "-f", "-")
		return err != nil
	}, 10*time.Second, 100*time.Millisecond, "a ConfigMap taking the FlinkDeployment's cluster-id is denied")
	_, denial, _ = strings.Cut(denial, "The ConfigMap") // after the mutating rules' warnings
	assert.Equal(t, ` "copy" is invalid: 
* metadata.annotations[flink-ha-webhook/cluster-id]: Invalid value: "basic-example": cluster-id "basic-example" is already used by FlinkDeployment/basic-example in namespace `+ns+`: two clusters with one cluster-id fight over leadership and recover each other's jobs; give this cluster another kubernetes.cluster-id (a FlinkDeployment's is its name)
* metadata.annotations[flink-ha-webhook/ha-storage-path]: Invalid value: "`+path+`": HA storage path `+path+` is already used by FlinkDeployment/basic-example in namespace `+ns+`: clusters sharing it overwrite each other's job graphs and checkpoint pointers; give this cluster its own high-availability.storageDir or high-availability.cluster-id
`, denial)
	for _, s := range []*controlplane.WebhookServer{leader, server} {
		assert.Equal(t, 1, strings.Count(s.Logs.String(), watchingNow), "each replica says once that it watches FlinkDeployments now")
	}

	// The elected replica goes (a rolling update): the other is elected,
	// and its reconciler starts with the watch it was given while it
	// waited.
	require.NoError(t, leader.Stop())
	require.Eventually(t, func() bool { return strings.Contains(server.Logs.String(), elected) },
		30*time.Second, 100*time.Millisecond, "the second replica is elected once the first is gone")
	out, err = kubectl(other, string(example), "apply", "-f", "-")
	require.NoError(t, err, out)
	accountMade(ctx, t, other, server)

	// The operator uninstalled: its CRD goes, with every FlinkDeployment.
	// serve carries on, and the cluster-id is free again.
	out, err = kubectl(ns, "", "delete", "--wait", "-f", crd)
	require.NoError(t, err, out)
	require.Eventually(t, func() bool {
		denial, err = kubectl(ns, copyOf, "apply", "-f", "-")
		return err == nil
	}, 10*time.Second, 100*time.Millisecond, "with the FlinkDeployment gone, its cluster-id is free: %s", denial)
	assert.Never(t, func() bool { return !server.Ready() }, 3*time.Second, 100*time.Millisecond, "serve stays up and ready: %s", server.Logs)
}

// crd is the FlinkDeployment CRD the end-to-end tests install.
const crd = "../e2e/testdata/crds/flinkdeployments.yaml"

// accountMade waits until the account of the basic example and both its
// bindings are in ns, which the elected replica s makes.
func accountMade(ctx context.Context, t *testing.T, ns string, s *controlplane.WebhookServer) {
	t.Helper()
	rbac := plane.Clientset.RbacV1().RoleBindings(ns)
	require.Eventually(t, func() bool {
		_, errSA := plane.Clientset.CoreV1().ServiceAccounts(ns).Get(ctx, "flink", metav1.GetOptions{})
		_, errStandalone := rbac.Get(ctx, "flink", metav1.GetOptions{})
		_, errNative := rbac.Get(ctx, "flink-native", metav1.GetOptions{})
		return errSA == nil && errStandalone == nil && errNative == nil
	}, 30*time.Second, 100*time.Millisecond, "the FlinkDeployment's account and both bindings are made in %s: %s", ns, s.Logs)
}

package install

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const chart = "../../charts/flink-ha-webhook"

// helm runs the helm of hack/helm.sh (built once, cached).
func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command("../../hack/helm.sh").Output()
	require.NoError(t, err, "hack/helm.sh: run make tools")
	cmd := exec.Command(strings.TrimSpace(string(out)), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}

func kubeVersion(t *testing.T) string {
	raw, err := os.ReadFile("../../hack/kube-version")
	require.NoError(t, err)
	return strings.TrimPrefix(strings.TrimSpace(string(raw)), "v")
}

func TestHelmChartInstall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := helm(t, "lint", "--strict", chart)
	require.NoError(t, err, out)

	const ns, release = "platform", "fhw"
	rendered, err := helm(t, "template", release, chart, "--namespace", ns, "--kube-version", kubeVersion(t),
		"--set", "policy.storageDir=s3://flink-ha/{namespace}/{clusterId}")
	require.NoError(t, err, rendered)
	_, err = plane.Clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	require.NoError(t, err)
	out, _, err = plane.Kubectl(ctx, rendered, "apply", "-f", "-")
	require.NoError(t, err, out)
	checkInstall(ctx, t, ns, release)

	policy, err := plane.Clientset.CoreV1().ConfigMaps(ns).Get(ctx, release+"-policy", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Contains(t, policy.Data["policy.yaml"], "storageDir: s3://flink-ha/{namespace}/{clusterId}")
}

func TestHelmChartRefusesBadValues(t *testing.T) {
	for name, set := range map[string][]string{
		"an unknown mode":                  {"policy.mode=sometimes"},
		"a storageDir without {clusterId}": {"policy.storageDir=s3://shared"},
		"an unknown value":                 {"replicas=3"},
		"no TLS source":                    {"tls.certManager.enabled=false"},
	} {
		args := []string{"template", "x", chart, "--kube-version", kubeVersion(t)}
		for _, s := range set {
			args = append(args, "--set", s)
		}
		out, err := helm(t, args...)
		assert.Error(t, err, "%s should be refused:\n%s", name, out)
	}
}

// TestHelmChartPassesIntervals checks that the chart's intervals reach
// serve's flags, with serve's defaults when unset.
func TestHelmChartPassesIntervals(t *testing.T) {
	for _, c := range []struct {
		set  []string
		want []string
	}{
		{nil, []string{"--audit-interval=10m", "--crd-discovery-interval=30s"}},
		{[]string{"auditInterval=0", "crdDiscoveryInterval=5m"}, []string{"--audit-interval=0", "--crd-discovery-interval=5m"}},
		{[]string{"auditInterval=1h30m", "crdDiscoveryInterval=500ms"}, []string{"--audit-interval=1h30m", "--crd-discovery-interval=500ms"}},
	} {
		args := []string{"template", "x", chart, "--kube-version", kubeVersion(t)}
		for _, s := range c.set {
			args = append(args, "--set", s)
		}
		rendered, err := helm(t, args...)
		require.NoError(t, err, rendered)
		var d appsv1.Deployment
		require.NoError(t, decodeKind(rendered, "Deployment", &d))
		got := d.Spec.Template.Spec.Containers[0].Args
		for _, w := range c.want {
			assert.Contains(t, got, w, "with %v", c.set)
		}
	}
	// What serve would refuse at start is refused at install, with the fix.
	for set, want := range map[string]string{
		"auditInterval=soon":         `auditInterval "soon": expected a duration such as 30s, 10m or 1h30m, or 0 to turn it off`,
		"auditInterval=-1m":          `auditInterval "-1m": expected a duration such as 30s, 10m or 1h30m, or 0 to turn it off`,
		"crdDiscoveryInterval=0s":    `crdDiscoveryInterval "0s": expected a duration above zero, such as 30s`,
		"crdDiscoveryInterval=0":     `crdDiscoveryInterval "0": expected a duration such as 30s, 10m or 1h30m`,
		"crdDiscoveryInterval=later": `crdDiscoveryInterval "later": expected a duration such as 30s, 10m or 1h30m`,
	} {
		out, err := helm(t, "template", "x", chart, "--kube-version", kubeVersion(t), "--set", set)
		require.Error(t, err, "%s should be refused:\n%s", set, out)
		assert.Contains(t, out, want, set)
	}
}

// TestChartAndManifestsAgree holds the chart's webhook configurations to
// the rules and conditions of manifests/webhook, which the end-to-end tests
// run against.
func TestChartAndManifestsAgree(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rendered, err := helm(t, "template", "agree", chart, "--namespace", "agree", "--kube-version", kubeVersion(t))
	require.NoError(t, err, rendered)
	out := rendered
	want, _, err := plane.Kubectl(ctx, "", "kustomize", "../../manifests/webhook")
	require.NoError(t, err)

	normalise := func(hooks []admissionregistrationv1.MutatingWebhook) []admissionregistrationv1.MutatingWebhook {
		for i := range hooks {
			hooks[i].ClientConfig = admissionregistrationv1.WebhookClientConfig{}
			hooks[i].NamespaceSelector = nil
		}
		return hooks
	}
	var got, exp admissionregistrationv1.MutatingWebhookConfiguration
	require.NoError(t, decodeKind(out, "MutatingWebhookConfiguration", &got))
	require.NoError(t, decodeKind(want, "MutatingWebhookConfiguration", &exp))
	assert.Equal(t, normalise(exp.Webhooks), normalise(got.Webhooks))

	var gotV, expV admissionregistrationv1.ValidatingWebhookConfiguration
	require.NoError(t, decodeKind(out, "ValidatingWebhookConfiguration", &gotV))
	require.NoError(t, decodeKind(want, "ValidatingWebhookConfiguration", &expV))
	for _, hooks := range [][]admissionregistrationv1.ValidatingWebhook{gotV.Webhooks, expV.Webhooks} {
		for i := range hooks {
			hooks[i].ClientConfig, hooks[i].NamespaceSelector = admissionregistrationv1.WebhookClientConfig{}, nil
		}
	}
	assert.Equal(t, expV.Webhooks, gotV.Webhooks)
}

package audit_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/flink-ha-webhook/flink-ha-webhook/audit"
	"github.com/flink-ha-webhook/flink-ha-webhook/fleet"
)

// TestServeKeepsTheAuditCurrent runs serve with a background audit every
// second and expects its gauges to say what the audit command says, and a
// PolicyReport in the namespace with a result per cluster and rule.
func TestServeKeepsTheAuditCurrent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns := deploy(ctx, t)
	dir := t.TempDir()
	policyFile := filepath.Join(dir, "policy.yaml")
	require.NoError(t, os.WriteFile(policyFile, []byte(auditPolicy), 0o600))
	metricsAddr := serve(t, dir, "--policy", policyFile, "--audit-interval", "1s")

	policyReports := dynamic.NewForConfigOrDie(plane.Config).Resource(schema.GroupVersionResource{Group: "wgpolicyk8s.io", Version: "v1alpha2", Resource: "policyreports"})
	var results []string
	var summary any
	require.Eventually(t, func() bool {
		r, err := policyReports.Namespace(ns).Get(ctx, "flink-ha-webhook", metav1.GetOptions{})
		if err != nil {
			return false
		}
		summary = r.Object["summary"]
		results = nil
		for _, x := range r.Object["results"].([]any) {
			m := x.(map[string]any)
			results = append(results, fmt.Sprintf("%s %s %s", m["properties"].(map[string]any)["clusterId"], m["rule"], m["result"]))
		}
		return true
	}, 30*time.Second, 200*time.Millisecond, "a PolicyReport in the namespace")
	assert.Equal(t, map[string]any{"pass": int64(17), "fail": int64(4), "warn": int64(0), "error": int64(0), "skip": int64(0)}, summary)
	assert.Equal(t, []string{
		"gone ha-configmaps-unowned pass",
		"orders ha-configmaps-unowned fail", "orders no-collision pass", "orders ha-configuration pass", "orders account-rights pass", "orders webhook-policy pass",
		"payments no-collision pass", "payments ha-configuration pass", "payments account-rights fail", "payments webhook-policy pass",
		"reports no-collision fail", "reports ha-configuration pass", "reports account-rights pass", "reports webhook-policy pass",
		"reports no-collision fail", "reports ha-configuration pass", "reports account-rights pass", "reports webhook-policy pass",
		"sessions no-collision pass", "sessions ha-configuration pass", "sessions webhook-policy pass",
	}, results)

	// The gauges count every namespace: compare them with the audit
	// command's view of the same cluster.
	stdout, stderr, _ := run(t, "audit", "--kubeconfig", plane.Kubeconfig, "--policy", policyFile, "-o", "json")
	var rep audit.Report
	require.NoError(t, json.Unmarshal([]byte(stdout), &rep), stderr)
	want := map[string]float64{}
	for _, s := range []fleet.HAState{fleet.HAOn, fleet.HAOff, fleet.HAZooKeeper, fleet.HACustom, fleet.HAConflicting} {
		want[`flink_ha_webhook_clusters{ha="`+string(s)+`"}`] = 0
	}
	want[`flink_ha_webhook_collisions{kind="cluster-id"}`] = 0
	want[`flink_ha_webhook_collisions{kind="storage-path"}`] = 0
	want["flink_ha_webhook_at_risk_ha_configmaps"], want["flink_ha_webhook_at_risk_clusters"] = 0, 0
	for _, c := range rep.Clusters {
		if c.Mode != "" {
			want[`flink_ha_webhook_clusters{ha="`+string(c.HA)+`"}`]++
		}
		for _, h := range c.HAConfigMaps {
			if len(h.Owners) > 0 {
				want["flink_ha_webhook_at_risk_ha_configmaps"]++
			}
		}
		if len(c.AtRisk) > 0 {
			want["flink_ha_webhook_at_risk_clusters"]++
		}
	}
	for _, c := range rep.Collisions {
		want[`flink_ha_webhook_collisions{kind="`+string(c.Kind)+`"}`]++
	}
	require.GreaterOrEqual(t, want["flink_ha_webhook_at_risk_ha_configmaps"], 1.0, "this test's own cluster is at risk")
	require.GreaterOrEqual(t, want[`flink_ha_webhook_collisions{kind="cluster-id"}`], 1.0, "this test's own pair collides")
	assert.Eventually(t, func() bool { return assert.ObjectsAreEqual(want, gauges(t, metricsAddr)) }, 10*time.Second, 200*time.Millisecond,
		"gauges %v, want %v", gauges(t, metricsAddr), want)
}

// serve starts the binary's serve against the plane (no webhook
// configurations point at it here: only its background work is tested)
// and returns its metrics address.
func serve(t *testing.T, dir string, args ...string) string {
	certDir := filepath.Join(dir, "tls")
	require.NoError(t, os.Mkdir(certDir, 0o700))
	writeCert(t, certDir)
	metrics, probe, port := freeAddr(t), freeAddr(t), freeAddr(t)
	_, p, _ := net.SplitHostPort(port)
	cmd := exec.Command(bin, append([]string{"serve", "--kubeconfig", plane.Kubeconfig, "--cert-dir", certDir, "--port", p,
		"--metrics-bind-address", metrics, "--health-probe-bind-address", probe,
		"--safety-net=false", "--ensure-accounts=false", "--check-collisions=false"}, args...)...)
	logs := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("serve: %s", logs)
		}
	})
	return metrics
}

// gauges scrapes the webhook's own gauges of the audit.
func gauges(t *testing.T, addr string) map[string]float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	s := bufio.NewScanner(resp.Body)
	for s.Scan() {
		line := s.Text()
		if strings.HasPrefix(line, "#") || !strings.HasPrefix(line, "flink_ha_webhook_") || strings.Contains(line, "timestamp") {
			continue
		}
		name, value, ok := strings.Cut(line, " ")
		if !ok || !slices.ContainsFunc([]string{"flink_ha_webhook_clusters", "flink_ha_webhook_collisions", "flink_ha_webhook_at_risk_"},
			func(p string) bool { return strings.HasPrefix(name, p) }) {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		require.NoError(t, err)
		out[name] = v
	}
	return out
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

func writeCert(t *testing.T, dir string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tls.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
}

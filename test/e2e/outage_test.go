package e2e

import (
	"context"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flink-ha-webhook/flink-ha-webhook/rights"
)

// cuttable is a TCP proxy to the API server that can be cut (every
// connection closed, new ones refused) and restored on the same address.
type cuttable struct {
	addr, target string
	mu           sync.Mutex
	ln           net.Listener
	conns        map[net.Conn]bool
}

func (c *cuttable) listen(t *testing.T) {
	ln, err := net.Listen("tcp", c.addr)
	require.NoError(t, err)
	c.mu.Lock()
	c.ln, c.addr = ln, ln.Addr().String()
	c.mu.Unlock()
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", c.target)
			if err != nil {
				in.Close()
				continue
			}
			c.mu.Lock()
			c.conns[in], c.conns[out] = true, true
			c.mu.Unlock()
			go func() { _, _ = io.Copy(out, in); out.Close() }()
			go func() { _, _ = io.Copy(in, out); in.Close() }()
		}
	}()
}

func (c *cuttable) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ln.Close()
	for conn := range c.conns {
		conn.Close()
	}
	c.conns = map[net.Conn]bool{}
}

// TestReconcilersRideOutAnUnreachableAPIServer cuts the webhook's own
// connection to the API server (the API server still calls the webhook):
// admission keeps working, as it needs nothing from the API server; the
// reconcilers cannot act, retry, and catch up once the API server is back.
func TestReconcilersRideOutAnUnreachableAPIServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	flinkRoles(t)
	apiserver, err := url.Parse(plane.Config.Host)
	require.NoError(t, err)
	proxy := &cuttable{addr: "127.0.0.1:0", target: apiserver.Host, conns: map[net.Conn]bool{}}
	proxy.listen(t)
	defer proxy.cut()

	kubeconfig, err := os.ReadFile(plane.Kubeconfig)
	require.NoError(t, err)
	require.Contains(t, string(kubeconfig), apiserver.Host)
	viaProxy := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(viaProxy, []byte(strings.ReplaceAll(string(kubeconfig), apiserver.Host, proxy.addr)), 0o600))

	server.Stop()
	admin := plane.Kubeconfig
	plane.Kubeconfig = viaProxy // only for the webhook's own connection
	s, err := plane.ServeWebhook(webhookBin, testPolicy)
	plane.Kubeconfig = admin
	require.NoError(t, err)
	server = s
	defer func() { // a webhook on the direct connection for the tests after this one
		server.Stop()
		s, err := plane.ServeWebhook(webhookBin, testPolicy)
		require.NoError(t, err)
		server = s
	}()

	proxy.cut()
	ns := plane.Namespace(t)
	for i := 0; i < 3; i++ {
		_, errOut, err := kubectlIn(ctx, ns, strings.Replace(flinkConfig, "name: flink-config", "name: flink-config-"+string(rune('a'+i)), 1), "apply", "-f", "-")
		require.NoError(t, err)
		assert.Contains(t, errOut, "Warning: data[flink-conf.yaml]: set high-availability: org.apache.flink.kubernetes.highavailability.KubernetesHaServicesFactory", "the webhook keeps serving")
	}
	_, _, err = kubectlIn(ctx, ns, example(t, "standalone-session"), "apply", "-f", "-")
	require.NoError(t, err)
	d, err := plane.Clientset.AppsV1().Deployments(ns).Get(ctx, "flink-jobmanager", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "flink-ha", d.Spec.Template.Spec.ServiceAccountName, "the mutation needs no API server")
	assert.Never(t, func() bool {
		_, err := plane.Clientset.CoreV1().ServiceAccounts(ns).Get(ctx, "flink-ha", metav1.GetOptions{})
		return !apierrors.IsNotFound(err)
	}, 3*time.Second, 200*time.Millisecond, "the reconcilers cannot act while the API server is unreachable")
	_, err = server.Metric(ctx, "flink_ha_webhook_admission_requests_total")
	assert.NoError(t, err, "the process does not give up")

	proxy.listen(t)
	start := time.Now()
	require.Eventually(t, func() bool {
		rb, err := plane.Clientset.RbacV1().RoleBindings(ns).Get(ctx, "flink-ha", metav1.GetOptions{})
		return err == nil && rb.RoleRef.Name == rights.ClusterRole("flink-ha-webhook", rights.Standalone)
	}, 2*time.Minute, 200*time.Millisecond, "the reconcilers should catch up: %s", server.Logs)
	t.Logf("the account was made %s after the API server came back", time.Since(start).Round(10*time.Millisecond))
}

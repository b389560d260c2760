package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/flink-ha-webhook/flink-ha-webhook/test/controlplane"
)

// load is clients creating Flink configuration ConfigMaps through the API
// server without pause. An admission fails when the create fails (the
// validating webhook fails closed) or when the stored object was not made
// HA (the mutating webhook fails open: a call that failed is a skipped
// mutation, not an error).
type load struct {
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	created atomic.Int64
	mu      sync.Mutex
	failed  []string
}

func startLoad(t *testing.T, ctx context.Context, ns string, clients int) *load {
	ctx, cancel := context.WithCancel(ctx)
	l := &load{cancel: cancel}
	// Without client-side throttling, and without printing the webhook's
	// warnings for every object.
	cfg := rest.CopyConfig(plane.Config)
	cfg.QPS, cfg.Burst = 1000, 1000
	cfg.WarningHandler = rest.NoWarnings{}
	cs, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	cms := cs.CoreV1().ConfigMaps(ns)
	for c := range clients {
		l.wg.Go(func() {
			for n := 0; ctx.Err() == nil; n++ {
				id := fmt.Sprintf("c%d-%d", c, n)
				cm := &corev1.ConfigMap{
					ObjectMeta: metav1.ObjectMeta{Name: "flink-config-" + id},
					Data:       map[string]string{"flink-conf.yaml": "kubernetes.cluster-id: " + id + "\nparallelism.default: 2\n"},
				}
				got, err := cms.Create(ctx, cm, metav1.CreateOptions{})
				if ctx.Err() != nil {
					return
				}
				l.mu.Lock()
				switch {
				case err != nil:
					l.failed = append(l.failed, fmt.Sprintf("%s at %s: %v", id, time.Now().Format("15:04:05.000"), err))
				case !strings.Contains(got.Data["flink-conf.yaml"], "high-availability.storageDir: s3://flink-ha/"):
					l.failed = append(l.failed, fmt.Sprintf("%s at %s: stored without HA: %q", id, time.Now().Format("15:04:05.000"), got.Data["flink-conf.yaml"]))
				default:
					l.created.Add(1)
				}
				l.mu.Unlock()
			}
		})
	}
	return l
}

// stop ends the load and returns how many admissions succeeded and what
// failed.
func (l *load) stop() (int64, []string) {
	l.cancel()
	l.wg.Wait()
	return l.created.Load(), l.failed
}

// servedSerial is the serial number of the certificate the webhook
// endpoint serves now.
func servedSerial(t *testing.T) string {
	addr := net.JoinHostPort(plane.Webhook.Host, strconv.Itoa(plane.Webhook.Port))
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true}) // only the certificate is looked at
	if err != nil {
		return ""
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// TestDrillCertificateRotationUnderLoad: cert-manager renews the serving
// certificate while 8 clients create Flink objects; no admission fails and
// the new certificate is served within seconds, without a restart.
func TestDrillCertificateRotationUnderLoad(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns := plane.Namespace(t)
	l := startLoad(t, ctx, ns, 8)
	time.Sleep(2 * time.Second)

	cert, err := plane.RotateWebhookCertificate(ctx)
	require.NoError(t, err)
	rotated := time.Now()
	assert.Eventually(t, func() bool { return servedSerial(t) == cert.SerialNumber.String() }, 15*time.Second, 100*time.Millisecond,
		"the new certificate must be served within seconds: %s", server.Logs)
	t.Logf("new certificate served %s after it was written", time.Since(rotated).Round(100*time.Millisecond))
	time.Sleep(3 * time.Second) // and admissions go on with it

	created, failed := l.stop()
	assert.Empty(t, failed, "admissions that failed during the rotation")
	assert.Greater(t, created, int64(40), "the load must have run")
	t.Logf("%d admissions", created)
}

// replaceServer stops the shared webhook server for a drill that runs its
// own, and brings it back afterwards for the tests that follow.
func replaceServer(t *testing.T) {
	require.NoError(t, server.Stop())
	t.Cleanup(func() {
		var err error
		server, err = plane.ServeWebhook(webhookBin, testPolicy)
		require.NoError(t, err, "restarting the shared webhook server")
		// The next test's first admission must not meet a connection the
		// drill left behind.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cms := plane.Clientset.CoreV1().ConfigMaps("default")
		name := "flink-config-after-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
		got, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name},
			Data: map[string]string{"flink-conf.yaml": "kubernetes.cluster-id: after\n"}}, metav1.CreateOptions{})
		require.NoError(t, err, "the first admission after the drill: %s", server.Logs)
		assert.Contains(t, got.Data["flink-conf.yaml"], "high-availability.storageDir: s3://flink-ha/", "the first admission after the drill was not mutated")
		_ = cms.Delete(ctx, name, metav1.DeleteOptions{})
	})
}

// replica starts serve on a free port for a Balancer, without the
// background reconcilers, which the drills do not exercise.
func replica(t *testing.T, flags ...string) *controlplane.WebhookServer {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	s, err := plane.ServeWebhookOn(webhookBin, testPolicy, port, append([]string{"--safety-net=false", "--ensure-accounts=false"}, flags...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Stop() })
	return s
}

// TestDrillRollingRestartUnderLoad: two replicas behind one endpoint are
// replaced one after the other, as a Deployment's rolling update does,
// while 8 clients create Flink objects; no admission fails, and every
// replica exits cleanly.
func TestDrillRollingRestartUnderLoad(t *testing.T) {
	// 3s: the balancer, like the endpoints controller, needs a moment to
	// see the replica unready; the API server's connections then close.
	const drain = "--shutdown-delay=3s"
	replaceServer(t)
	b, err := plane.StartBalancer()
	require.NoError(t, err)
	defer b.Close()
	a1, a2 := replica(t, drain), replica(t, drain)
	b.Add(a1)
	b.Add(a2)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns := plane.Namespace(t)
	l := startLoad(t, ctx, ns, 8)
	time.Sleep(2 * time.Second)
	for _, old := range []*controlplane.WebhookServer{a1, a2} {
		b.Add(replica(t, drain)) // the surge replica is ready first
		assert.NoError(t, old.Stop(), "a replica exits cleanly: %s", old.Logs)
		b.Remove(old)
		time.Sleep(time.Second)
	}
	time.Sleep(2 * time.Second)
	created, failed := l.stop()
	assert.Empty(t, failed, "admissions that failed during the rolling restart")
	assert.Zero(t, b.Refused(), "connections that found no ready replica")
	assert.Greater(t, created, int64(40), "the load must have run")
	t.Logf("%d admissions", created)
}

// TestDrillSlowWebhookBehavesAsDown: a webhook that answers after its
// timeoutSeconds is treated by the API server exactly as one that is
// down: the same objects are admitted and refused, with the same webhook
// named.
func TestDrillSlowWebhookBehavesAsDown(t *testing.T) {
	replaceServer(t)
	b, err := plane.StartBalancer()
	require.NoError(t, err)
	defer b.Close()
	s := replica(t)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns := plane.Namespace(t)
	cms := plane.Clientset.CoreV1().ConfigMaps(ns)
	_, err = cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "orders-cluster-config-map"},
		Data: map[string]string{"counter": "1"}}, metav1.CreateOptions{})
	require.NoError(t, err)

	// outcomes sends each case through the API server and says what
	// became of it.
	round := 0
	outcomes := func() map[string]string {
		round++
		cases := map[string]*corev1.ConfigMap{
			"a ConfigMap that is not Flink's": {ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("app-%d", round)},
				Data: map[string]string{"settings.json": "{}"}},
			"a Flink configuration that cannot work": {ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("broken-%d", round)},
				Data: map[string]string{"flink-conf.yaml": "high-availability.type: zookeeper\n"}},
		}
		out := map[string]string{}
		for name, cm := range cases {
			_, err := cms.Create(ctx, cm, metav1.CreateOptions{})
			out[name] = describe(err)
		}
		ha, err := cms.Get(ctx, "orders-cluster-config-map", metav1.GetOptions{})
		require.NoError(t, err)
		ha.Annotations = map[string]string{"control-plane.alpha.kubernetes.io/leader": fmt.Sprintf(`{"renewTime":"%d"}`, round)}
		_, err = cms.Update(ctx, ha, metav1.UpdateOptions{})
		out["a leader renewal of an HA ConfigMap"] = describe(err)
		return out
	}

	down := outcomes() // no replica behind the endpoint: connections refused
	assert.Equal(t, map[string]string{
		"a ConfigMap that is not Flink's":        "admitted",
		"a Flink configuration that cannot work": `refused by webhook "flink-config.webhook.flink-ha"`,
		"a leader renewal of an HA ConfigMap":    "admitted",
	}, down)

	b.Add(s)
	b.SetDelay(6 * time.Second) // past timeoutSeconds: 5
	start := time.Now()
	slow := outcomes()
	assert.Equal(t, down, slow, "a slow webhook must behave as a down one")
	t.Logf("slow round took %s", time.Since(start).Round(100*time.Millisecond))

	// And the server itself is none the worse for the abandoned reviews.
	b.SetDelay(0)
	require.Eventually(t, func() bool {
		_, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "flink-config-after"},
			Data: map[string]string{"flink-conf.yaml": "kubernetes.cluster-id: after\n"}}, metav1.CreateOptions{})
		return err == nil
	}, 30*time.Second, time.Second, "%s", s.Logs)
}

// describe is what the API server made of a request, with the webhook it
// names when it refused.
func describe(err error) string {
	if err == nil {
		return "admitted"
	}
	msg := err.Error()
	if _, rest, ok := strings.Cut(msg, `failed calling webhook "`); ok {
		name, _, _ := strings.Cut(rest, `"`)
		return fmt.Sprintf("refused by webhook %q", name)
	}
	if _, rest, ok := strings.Cut(msg, `admission webhook "`); ok {
		name, _, _ := strings.Cut(rest, `"`)
		return fmt.Sprintf("denied by webhook %q", name)
	}
	return msg
}

package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// envMain makes the test binary run main's run instead of the tests: the
// serve tests start it as a separate process, as a pod would.
const envMain = "FLINK_HA_WEBHOOK_TEST_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(envMain) != "" {
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// writeCert writes a self-signed certificate for 127.0.0.1 with common
// name cn into dir as tls.crt and tls.key.
func writeCert(t testing.TB, dir, cn string) *x509.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	// Write both under temporary names and rename, as a kubelet updates a
	// mounted Secret, so the server never reads half a pair.
	for name, block := range map[string]*pem.Block{"tls.key": {Type: "EC PRIVATE KEY", Bytes: keyDER}, "tls.crt": {Type: "CERTIFICATE", Bytes: der}} {
		tmp := filepath.Join(dir, "."+name)
		require.NoError(t, os.WriteFile(tmp, pem.EncodeToMemory(block), 0o600))
		require.NoError(t, os.Rename(tmp, filepath.Join(dir, name)))
	}
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return cert
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// unreachableKubeconfig lets the manager start: the webhook itself needs
// no API server.
func unreachableKubeconfig(t *testing.T, dir string) string {
	path := filepath.Join(dir, "kubeconfig")
	require.NoError(t, os.WriteFile(path, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`), 0o600))
	return path
}

// syncBuffer is a buffer a process writes while a test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func startServe(t *testing.T, args ...string) (*exec.Cmd, *syncBuffer) {
	self, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(self, append([]string{"serve"}, args...)...)
	cmd.Env = append(os.Environ(), envMain+"=1")
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, logs
}

// served is a running serve process.
type served struct {
	cmd   *exec.Cmd
	logs  *syncBuffer
	addr  string // the webhooks' HTTPS address
	probe string // /healthz and /readyz
	dir   string
}

// startReady starts serve with a fresh certificate and no reconcilers and
// waits until it is ready.
func startReady(t *testing.T, args ...string) *served {
	dir := t.TempDir()
	certDir := filepath.Join(dir, "tls")
	require.NoError(t, os.Mkdir(certDir, 0o700))
	writeCert(t, certDir, "first")
	port, probe := freePort(t), freePort(t)
	s := &served{addr: fmt.Sprintf("127.0.0.1:%d", port), probe: fmt.Sprintf("127.0.0.1:%d", probe), dir: dir}
	s.cmd, s.logs = startServe(t, append([]string{"--cert-dir", certDir, "--port", strconv.Itoa(port),
		"--health-probe-bind-address", s.probe, "--metrics-bind-address", "0",
		"--kubeconfig", unreachableKubeconfig(t, dir), "--safety-net=false", "--ensure-accounts=false", "--check-collisions=false", "--hold-back-standalone=false", "--keep-default-identities=false", "--namespace-policies=false"}, args...)...)
	require.Eventually(t, func() bool { return s.ready() == http.StatusOK }, 30*time.Second, 100*time.Millisecond, "never ready: %s", s.logs)
	return s
}

// ready is the status of /readyz, 0 when it does not answer.
func (s *served) ready() int {
	resp, err := http.Get("http://" + s.probe + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// wait waits for the process to exit and returns its exit status.
func (s *served) wait(t *testing.T, within time.Duration) int {
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		require.NoError(t, err)
		return 0
	case <-time.After(within):
		t.Fatalf("serve did not exit within %s: %s", within, s.logs)
		return -1
	}
}

var insecure = &tls.Config{InsecureSkipVerify: true} // the test's own self-signed certificate

// reviewJSON is a minimal AdmissionReview of a ConfigMap nobody cares about.
const reviewJSON = `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1",` +
	`"kind":{"version":"v1","kind":"ConfigMap"},"resource":{"version":"v1","resource":"configmaps"},"namespace":"team",` +
	`"operation":"CREATE","object":{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"data":{"k":"v"}}}}`

func TestServe(t *testing.T) {
	s := startReady(t, "--shutdown-delay=0s")
	certDir := filepath.Join(s.dir, "tls")
	served := func(cfg *tls.Config) (*x509.Certificate, error) {
		conn, err := tls.Dial("tcp", s.addr, cfg)
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0], nil
	}
	got, err := served(insecure)
	require.NoError(t, err)
	assert.Equal(t, "first", got.Subject.CommonName)

	// A client offering only TLS 1.0 and 1.1, so that the refusal is the
	// server's, not the client's own default.
	_, err = served(&tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
	assert.EqualError(t, err, "remote error: tls: protocol version not supported", "TLS 1.1 must be refused")

	second := writeCert(t, certDir, "second")
	assert.Eventually(t, func() bool {
		got, err := served(insecure)
		return err == nil && got.SerialNumber.Cmp(second.SerialNumber) == 0
	}, 20*time.Second, 200*time.Millisecond, "a renewed certificate must be served without a restart")

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: insecure}}
	big := bytes.Repeat([]byte("x"), 3<<20+1)
	resp, err := client.Post("https://"+s.addr+"/mutate", "application/json", bytes.NewReader(big))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)

	for body, code := range map[string]int{"{not json": 400, "{}": 400, "null": 400, "": 400, reviewJSON: 200} {
		resp, err = client.Post("https://"+s.addr+"/validate", "application/json", strings.NewReader(body))
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, code, resp.StatusCode, "%q", body)
	}
	resp, err = client.Get("https://" + s.addr + "/mutate")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "a GET is not a review")

	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, 0, s.wait(t, 30*time.Second), "SIGTERM is a clean exit: %s", s.logs)
}

// TestServeDrainsOnSIGTERM: readiness turns false at once, reviews are
// still answered for --shutdown-delay, a review in flight when the delay
// ends is answered, and the exit is clean.
func TestServeDrainsOnSIGTERM(t *testing.T) {
	s := startReady(t, "--shutdown-delay=2s")
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: insecure}}

	// A review whose body is still arriving when the server shuts down.
	pr, pw := io.Pipe()
	inflight := make(chan int, 1)
	go func() {
		resp, err := client.Post("https://"+s.addr+"/validate", "application/json", pr)
		if err != nil {
			inflight <- 0
			return
		}
		resp.Body.Close()
		inflight <- resp.StatusCode
	}()
	_, err := pw.Write([]byte(reviewJSON[:40]))
	require.NoError(t, err)

	signalled := time.Now()
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	require.Eventually(t, func() bool { return s.ready() == http.StatusInternalServerError }, time.Second, 20*time.Millisecond,
		"readiness must fail at once: %s", s.logs)

	fresh := &http.Client{Transport: &http.Transport{TLSClientConfig: insecure}}
	resp, err := fresh.Post("https://"+s.addr+"/validate", "application/json", strings.NewReader(reviewJSON))
	require.NoError(t, err, "still serving while draining")
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.True(t, resp.Close, "and asking clients to go elsewhere: %s %v", resp.Proto, resp.Header)

	time.Sleep(time.Until(signalled.Add(2500 * time.Millisecond)))
	_, err = pw.Write([]byte(reviewJSON[40:]))
	require.NoError(t, err)
	require.NoError(t, pw.Close())
	assert.Equal(t, http.StatusOK, <-inflight, "the review in flight is answered")
	assert.Equal(t, 0, s.wait(t, 20*time.Second), "%s", s.logs)
}

// TestServeCutsOffTrickledBodies: a body sent a byte every second is cut
// off by the read deadline, and does not hold up the shutdown.
func TestServeCutsOffTrickledBodies(t *testing.T) {
	s := startReady(t, "--shutdown-delay=0s")
	conn, err := tls.Dial("tcp", s.addr, insecure)
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
	require.NoError(t, err)
	closed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, conn)
		close(closed)
	}()
	start := time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-closed:
			assert.Less(t, time.Since(start), 15*time.Second)
			require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
			assert.Equal(t, 0, s.wait(t, 10*time.Second), "%s", s.logs)
			return
		case <-tick.C:
			if time.Since(start) > 30*time.Second {
				t.Fatalf("a trickled body held its connection for 30s")
			}
			_, _ = conn.Write([]byte(" "))
		}
	}
}

// openFiles counts the process's file descriptors.
func openFiles(t *testing.T, pid int) int {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	require.NoError(t, err)
	return len(fds)
}

// TestServeBoundsConnections: a thousand connections that do nothing
// neither exhaust the server's file descriptors nor keep a client out.
func TestServeBoundsConnections(t *testing.T) {
	s := startReady(t, "--max-connections=32", "--shutdown-delay=0s")
	base := openFiles(t, s.cmd.Process.Pid)
	var idle []net.Conn
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	for range 1000 {
		c, err := net.Dial("tcp", s.addr)
		require.NoError(t, err)
		idle = append(idle, c)
	}
	start := time.Now()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: insecure}}
	resp, err := client.Post("https://"+s.addr+"/validate", "application/json", strings.NewReader(reviewJSON))
	require.NoError(t, err, "a client behind a thousand idle connections is served")
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	t.Logf("answered after %s", time.Since(start))
	assert.LessOrEqual(t, openFiles(t, s.cmd.Process.Pid), base+32+1, "at most --max-connections open")
}

// TestServeRateLimitsItsErrorLog: garbage handshakes from one source log
// one line, not one each.
func TestServeRateLimitsItsErrorLog(t *testing.T) {
	s := startReady(t, "--shutdown-delay=0s")
	for range 50 {
		c, err := net.Dial("tcp", s.addr)
		require.NoError(t, err)
		_, _ = c.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
		_, _ = io.Copy(io.Discard, c)
		c.Close()
	}
	handshakeErrors := func() int { return strings.Count(s.logs.String(), "TLS handshake error") }
	require.Eventually(t, func() bool { return handshakeErrors() > 0 }, 10*time.Second, 20*time.Millisecond, "%s", s.logs)
	time.Sleep(200 * time.Millisecond) // room for lines that should not come
	assert.Equal(t, 1, handshakeErrors(), "%s", s.logs)
}

func TestServeRefusesAnInvalidPolicy(t *testing.T) {
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.yaml")
	require.NoError(t, os.WriteFile(policy, []byte("storageDir: /tmp/{clusterId}\nenforcement: loud\n"), 0o600))
	cmd, logs := startServe(t, "--policy", policy, "--kubeconfig", unreachableKubeconfig(t, dir))
	err := cmd.Wait()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, 1, exit.ExitCode())
	assert.Contains(t, logs.String(), `storageDir: Invalid value: "/tmp/{clusterId}"`)
	assert.Contains(t, logs.String(), `enforcement: Unsupported value: "loud"`)
}

var someKind = regexp.MustCompile(`determine if \*v1\.\w+ is`)

// exitOf runs serve to its end and returns its exit status and output.
func exitOf(t *testing.T, args ...string) (int, string) {
	cmd, logs := startServe(t, args...)
	err := cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), logs.String()
	}
	require.NoError(t, err)
	return 0, logs.String()
}

// TestServeRefuses: what a user sees when serve cannot start, and its
// exit status: 2 for flags it cannot read, 1 for everything else.
func TestServeRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	noCert := filepath.Join(dir, "no-cert")
	require.NoError(t, os.Mkdir(noCert, 0o700))
	certDir := filepath.Join(dir, "tls")
	require.NoError(t, os.Mkdir(certDir, 0o700))
	writeCert(t, certDir, "refuses")
	kubeconfig := unreachableKubeconfig(t, dir)
	// Everything that talks to the API server off, and nothing listening
	// on fixed ports, unless a case says otherwise.
	quiet := []string{"--kubeconfig", kubeconfig, "--metrics-bind-address", "0", "--health-probe-bind-address", "0",
		"--safety-net=false", "--ensure-accounts=false", "--check-collisions=false", "--hold-back-standalone=false", "--keep-default-identities=false", "--namespace-policies=false", "--audit-interval=0"}
	const unreachable = `Get "https://127.0.0.1:1/api": dial tcp 127.0.0.1:1: connect: connection refused`

	cases := map[string]struct {
		args []string
		code int
		// stderr is the whole output, but for flag errors only its first
		// two lines (the flag list follows).
		stderr string
		// stopped is, for failures after the start, the error of the last
		// log line, which says why serve stopped.
		stopped string
	}{
		"a --namespace-policies that is not a boolean": {
			args: []string{"--namespace-policies=maybe"}, code: 2,
			stderr: "invalid boolean value \"maybe\" for -namespace-policies: parse error\nUsage of serve:\n",
		},
		"a --port that is not a number": {
			args: []string{"--port=https"}, code: 2,
			stderr: "invalid value \"https\" for flag -port: parse error\nUsage of serve:\n",
		},
		"a flag serve does not have": {
			args: []string{"--namespace=analytics"}, code: 2,
			stderr: "flag provided but not defined: -namespace\nUsage of serve:\n",
		},
		"a policy file that is not there": {
			args: []string{"--policy", missing}, code: 1,
			stderr: "flink-ha-webhook: reading the policy: open " + missing + ": no such file or directory\n",
		},
		"a kubeconfig that is not there": {
			args: []string{"--kubeconfig", missing}, code: 1,
			stderr: "flink-ha-webhook: no API server configuration (--kubeconfig, or a pod's service account): stat " + missing + ": no such file or directory\n",
		},
		"a health probe address without a port": {
			args: append(slices.Clone(quiet), "--health-probe-bind-address", "healthz"), code: 1,
			stderr: "flink-ha-webhook: error listening on healthz: listen tcp: address healthz: missing port in address\n",
		},
		"a profile address other pods could reach": {
			args: append(slices.Clone(quiet), "--pprof-bind-address", "0.0.0.0:6060"), code: 1,
			stderr: "flink-ha-webhook: --pprof-bind-address \"0.0.0.0:6060\": expected a loopback host (127.0.0.1, ::1 or localhost), so that profiles never leave the pod\n",
		},
		"a CRD discovery interval that is not positive": {
			args: append(slices.Clone(quiet), "--crd-discovery-interval=0s"), code: 1,
			stderr: "flink-ha-webhook: --crd-discovery-interval 0s: expected a positive duration, such as 30s\n",
		},
		"leader election outside a pod without a namespace for its Lease": {
			args: append(slices.Clone(quiet), "--leader-elect"), code: 1,
			stderr: "flink-ha-webhook: unable to find leader election namespace: not running in-cluster, please specify LeaderElectionNamespace\n",
		},
		"namespace policies with an API server that does not answer": {
			args: append(slices.Clone(quiet), "--namespace-policies=true"), code: 1,
			stderr: "flink-ha-webhook: looking for the FlinkHAPolicy resource: failed to get server groups: " + unreachable + "\n",
		},
		"the collision check with an API server that does not answer": {
			args: append(slices.Clone(quiet), "--check-collisions=true"), code: 1,
			stderr: "flink-ha-webhook: failed to determine if *v1.<kind> is namespaced: failed to get restmapping: failed to get server groups: " + unreachable + "\n",
		},
		"holding standalone clusters back with an API server that does not answer": {
			args: append(slices.Clone(quiet), "--hold-back-standalone=true"), code: 1,
			stderr: "flink-ha-webhook: failed to determine if *v1.<kind> is namespaced: failed to get restmapping: failed to get server groups: " + unreachable + "\n",
		},
		"a metrics address without a port stops serve once started": {
			args: append(slices.Clone(quiet), "--metrics-bind-address", "metrics", "--cert-dir", certDir, "--port", "0"), code: 1,
			stopped: "failed to start metrics server: failed to create listener: listen tcp: address metrics: missing port in address",
		},
		"a certificate directory without a certificate stops serve once everything else started": {
			args: append(slices.Clone(quiet), "--cert-dir", noCert, "--port", "0", "--debug", "--safety-net", "--audit-interval=1h",
				"--pprof-bind-address", "127.0.0.1:0"), code: 1,
			stopped: "loading the serving certificate from --cert-dir " + noCert + " (tls.crt, tls.key): open " + filepath.Join(noCert, "tls.crt") + ": no such file or directory",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			code, stderr := exitOf(t, tc.args...)
			assert.Equal(t, tc.code, code, "%s", stderr)
			if tc.stopped != "" {
				lines := strings.Split(strings.TrimSpace(stderr), "\n")
				var last struct{ Level, Logger, Msg, Error string }
				require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &last), "%s", stderr)
				assert.Equal(t, struct{ Level, Logger, Msg, Error string }{"error", "serve", "stopped", tc.stopped}, last, "%s", stderr)
				return
			}
			// Which kind the manager's cache asks about first is map order.
			stderr = someKind.ReplaceAllString(withoutFlagList(stderr, tc.stderr), "determine if *v1.<kind> is")
			assert.Equal(t, tc.stderr, stderr)
		})
	}
}

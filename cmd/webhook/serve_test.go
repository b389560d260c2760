package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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
func writeCert(t *testing.T, dir, cn string) *x509.Certificate {
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

func startServe(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer) {
	self, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(self, append([]string{"serve"}, args...)...)
	cmd.Env = append(os.Environ(), envMain+"=1")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, &logs
}

func TestServe(t *testing.T) {
	dir := t.TempDir()
	certDir := filepath.Join(dir, "tls")
	require.NoError(t, os.Mkdir(certDir, 0o700))
	first := writeCert(t, certDir, "first")
	port, probe := freePort(t), freePort(t)
	cmd, logs := startServe(t, "--cert-dir", certDir, "--port", strconv.Itoa(port),
		"--health-probe-bind-address", fmt.Sprintf("127.0.0.1:%d", probe), "--metrics-bind-address", "0",
		"--kubeconfig", unreachableKubeconfig(t, dir), "--safety-net=false", "--ensure-accounts=false")

	require.Eventually(t, func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", probe))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 100*time.Millisecond, "never ready: %s", logs)

	addr := fmt.Sprintf("127.0.0.1:%d", port)
	served := func(cfg *tls.Config) (*x509.Certificate, error) {
		conn, err := tls.Dial("tcp", addr, cfg)
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0], nil
	}
	got, err := served(&tls.Config{InsecureSkipVerify: true}) // the test's own self-signed certificate
	require.NoError(t, err)
	assert.Equal(t, first.SerialNumber, got.SerialNumber)

	_, err = served(&tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11})
	assert.Error(t, err, "TLS 1.1 must be refused")

	second := writeCert(t, certDir, "second")
	assert.Eventually(t, func() bool {
		got, err := served(&tls.Config{InsecureSkipVerify: true})
		return err == nil && got.SerialNumber.Cmp(second.SerialNumber) == 0
	}, 20*time.Second, 200*time.Millisecond, "a renewed certificate must be served without a restart")

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	big := bytes.Repeat([]byte("x"), 3<<20+1)
	resp, err := client.Post("https://"+addr+"/mutate", "application/json", bytes.NewReader(big))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)

	resp, err = client.Post("https://"+addr+"/validate", "application/json", strings.NewReader("{not json"))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "a bad review is answered, not dropped")
	assert.True(t, cmd.ProcessState == nil, "and the server is still running")

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		assert.NoError(t, err, "SIGTERM is a clean exit: %s", logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not exit within 30s of SIGTERM")
	}
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

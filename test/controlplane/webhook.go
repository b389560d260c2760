package controlplane

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// WebhookServer is the flink-ha-webhook binary running `serve` for a plane.
type WebhookServer struct {
	// Logs holds what the server logged.
	Logs *LogBuffer
	// ProbeAddr serves /healthz and /readyz; Port is the webhooks' HTTPS
	// port on the endpoint's host.
	ProbeAddr   string
	Port        int
	cmd         *exec.Cmd
	metricsAddr string
	done        chan struct{}
	waitErr     error
}

// BuildWebhook builds the flink-ha-webhook binary of this checkout into dir.
func BuildWebhook(dir string) (string, error) {
	return Build(dir, "flink-ha-webhook", "./cmd/webhook", false)
}

// Build builds the command pkg of this checkout into dir/name; with image,
// as the Dockerfile builds the image's binary (static, no symbol tables),
// so that its memory is that of what a cluster runs.
func Build(dir, name, pkg string, image bool) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, name)
	args := []string{"build", "-o", bin}
	if image {
		args = append(args, "-trimpath", "-ldflags=-s -w")
	}
	build := exec.Command("go", append(args, pkg)...)
	build.Dir = root
	if image {
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
	}
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v: %s", pkg, err, out)
	}
	return bin, nil
}

func freeAddr() (string, error) {
	port, err := freePort()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), err
}

// ServeWebhook runs bin (see BuildWebhook) as the webhook server of the
// plane's webhook endpoint with the given policy, returning once /readyz
// answers. Its logs collect in Logs.
func (p *Plane) ServeWebhook(bin, policy string) (*WebhookServer, error) {
	return p.ServeWebhookOn(bin, policy, p.Webhook.Port)
}

// ServeWebhookOn is ServeWebhook on another port of the endpoint's host
// (behind a Balancer), with extra flags for serve. Unless the flags say
// otherwise, it drains for 1s after SIGTERM.
func (p *Plane) ServeWebhookOn(bin, policy string, port int, flags ...string) (*WebhookServer, error) {
	s, err := p.StartWebhookOn(bin, policy, port, flags...)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return nil, fmt.Errorf("flink-ha-webhook exited: %s", s.Logs.String())
		case <-time.After(100 * time.Millisecond):
		}
		if s.Ready() {
			return s, nil
		}
	}
	s.Stop()
	return nil, fmt.Errorf("flink-ha-webhook not ready within 30s: %s", s.Logs.String())
}

// StartWebhookOn is ServeWebhookOn without the wait for /readyz: it
// returns once the process runs.
func (p *Plane) StartWebhookOn(bin, policy string, port int, flags ...string) (*WebhookServer, error) {
	dir, err := os.MkdirTemp(p.dir, "webhook-")
	if err != nil {
		return nil, err
	}
	policyFile := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policyFile, []byte(policy), 0o600); err != nil {
		return nil, err
	}
	metricsAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	probeAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	s := &WebhookServer{metricsAddr: metricsAddr, ProbeAddr: probeAddr, Port: port, Logs: &LogBuffer{}, done: make(chan struct{})}
	args := []string{"serve",
		"--policy", policyFile,
		"--cert-dir", p.Webhook.CertDir,
		"--port", strconv.Itoa(port),
		"--kubeconfig", p.Kubeconfig,
		"--metrics-bind-address", metricsAddr,
		"--health-probe-bind-address", probeAddr,
		"--shutdown-delay=1s",
		"--debug",
	}
	s.cmd = exec.Command(bin, append(args, flags...)...)
	s.cmd.Stdout, s.cmd.Stderr = s.Logs, s.Logs
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { s.waitErr = s.cmd.Wait(); close(s.done) }()
	return s, nil
}

// Ready reports whether the server's /readyz answers ok.
func (s *WebhookServer) Ready() bool {
	resp, err := http.Get("http://" + s.ProbeAddr + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Stop ends the server as Kubernetes would, with SIGTERM, and waits for it
// (killing it after 30s); the error is how it exited.
func (s *WebhookServer) Stop() error {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	return s.waitErr
}

// Metric returns the value of the sample of name whose labels include every
// label given ("kind=ConfigMap"), summed over the samples that match.
func (s *WebhookServer) Metric(ctx context.Context, name string, labels ...string) (float64, error) {
	m, err := s.Metrics(ctx)
	if err != nil {
		return 0, err
	}
	return m.Sum(name, labels...)
}

// Metrics is one reading of a server's /metrics, in Prometheus' text
// format: the values of one moment, read with Sum.
type Metrics []byte

// Metrics reads the server's /metrics once, uncompressed: a reader that
// asked for gzip would have the server compress every reading, which a
// measurement of the server's CPU would count.
func (s *WebhookServer) Metrics(ctx context.Context) (Metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.metricsAddr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("reading the webhook's metrics: %s", resp.Status)
	}
	return io.ReadAll(resp.Body)
}

// Sum is the value of the sample of name whose labels include every label
// given ("kind=ConfigMap"), summed over the samples that match.
func (m Metrics) Sum(name string, labels ...string) (float64, error) {
	var sum float64
	sc := bufio.NewScanner(bytes.NewReader(m))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		matches := true
		for _, l := range labels {
			k, v, _ := strings.Cut(l, "=")
			if !strings.Contains(line, k+`="`+v+`"`) {
				matches = false
			}
		}
		if !matches {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("metric line %q: %w", line, err)
		}
		sum += v
	}
	return sum, sc.Err()
}

// LogBuffer collects a process's output; it is safe for the process
// writing and a test reading at once.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

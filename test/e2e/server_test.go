package e2e

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
	"syscall"
	"time"

	"github.com/flink-ha-webhook/flink-ha-webhook/test/controlplane"
)

// webhookServer is the flink-ha-webhook binary running `serve`.
type webhookServer struct {
	cmd         *exec.Cmd
	metricsAddr string
	logs        *bytes.Buffer
	done        chan struct{}
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startWebhook builds the binary from this checkout and serves the plane's
// webhook endpoint with it, returning once /readyz answers.
func startWebhook(p *controlplane.Plane, policy string) (*webhookServer, error) {
	dir, err := os.MkdirTemp("", "flink-ha-webhook-e2e-")
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(dir, "flink-ha-webhook")
	build := exec.Command("go", "build", "-o", bin, "./cmd/webhook")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build: %v: %s", err, out)
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
	s := &webhookServer{metricsAddr: metricsAddr, logs: &bytes.Buffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(bin, "serve",
		"--policy", policyFile,
		"--cert-dir", p.Webhook.CertDir,
		"--port", strconv.Itoa(p.Webhook.Port),
		"--kubeconfig", p.Kubeconfig,
		"--metrics-bind-address", metricsAddr,
		"--health-probe-bind-address", probeAddr,
		"--debug",
	)
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = s.cmd.Wait(); close(s.done); os.RemoveAll(dir) }()

	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return nil, fmt.Errorf("flink-ha-webhook exited: %s", s.logs.String())
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := http.Get("http://" + probeAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
	}
	s.stop()
	return nil, fmt.Errorf("flink-ha-webhook not ready within 30s: %s", s.logs.String())
}

// stop ends the server as Kubernetes would, with SIGTERM.
func (s *webhookServer) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// metric returns the value of the sample of name whose labels include every
// label given ("kind=ConfigMap"), summed over the samples that match.
func (s *webhookServer) metric(ctx context.Context, name string, labels ...string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.metricsAddr+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	var sum float64
	sc := bufio.NewScanner(bytes.NewReader(body))
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
	return sum, nil
}

// Command load measures what `serve` costs under the worst admission
// reviews it can be sent: it builds and starts the webhook on loopback
// (self-signed certificate, no API server, no reconcilers), sends rounds
// of concurrent AdmissionReviews of each shape near the API server's
// 3 MiB limit, as the API server does (?timeout=, one HTTP/2 connection),
// and reports per shape the answers by status, the slowest answer and the
// server's peak resident memory (VmHWM).
//
//	go run ./hack/load                       # every shape, 64 at once, 2 rounds
//	go run ./hack/load -shapes args -concurrency 16
//
// It talks to 127.0.0.1 only, sends at most concurrency*rounds reviews per
// shape and gives up after -deadline.
package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// budget is what one review's object may take, leaving room for the
// AdmissionReview around it under the API server's 3 MiB.
const budget = 3<<20 - 4<<10

func main() {
	concurrency := flag.Int("concurrency", 64, "reviews sent at once")
	rounds := flag.Int("rounds", 2, "rounds of concurrent reviews per shape")
	timeout := flag.Duration("timeout", 5*time.Second, "the webhook timeout the reviews carry (timeoutSeconds)")
	deadline := flag.Duration("deadline", 10*time.Minute, "give up after this long")
	shapes := flag.String("shapes", strings.Join(shapeNames(), ","), "shapes to send, comma-separated")
	bin := flag.String("bin", "", "flink-ha-webhook binary; default: built from ./cmd/webhook")
	serveArgs := flag.String("serve-args", "", "extra flags for serve, space-separated")
	flag.Parse()
	if err := run(*concurrency, *rounds, *timeout, *deadline, strings.Split(*shapes, ","), *bin, strings.Fields(*serveArgs)); err != nil {
		fmt.Fprintf(os.Stderr, "load: %v\n", err)
		os.Exit(1)
	}
}

// shape is one kind of hostile or huge review.
type shape struct {
	name, what string
	kind       [3]string // group, version, kind
	object     func(size int) any
}

func shapeNames() []string {
	var names []string
	for _, s := range allShapes {
		names = append(names, s.name)
	}
	return names
}

var allShapes = []shape{
	{"args", "a JobManager Deployment with ~250k arguments (the mutation inserts one)", [3]string{"apps", "v1", "Deployment"}, func(size int) any {
		var args []string
		for n := 0; n < size; {
			a := "--x" + strconv.Itoa(len(args))
			args = append(args, a)
			n += len(a) + 3
		}
		return deployment(append([]string{"jobmanager"}, args...), nil)
	}},
	{"env", "a JobManager Deployment with ~60k environment variables", [3]string{"apps", "v1", "Deployment"}, func(size int) any {
		var env []map[string]string
		for n := 0; n < size; {
			e := map[string]string{"name": "E" + strconv.Itoa(len(env)), "value": "v"}
			env = append(env, e)
			n += 30 + len(e["name"])
		}
		return deployment([]string{"jobmanager"}, env)
	}},
	{"flink-conf-lines", "a flink-conf.yaml ConfigMap of ~150k short lines", [3]string{"", "v1", "ConfigMap"}, func(size int) any {
		var b strings.Builder
		b.WriteString("kubernetes.cluster-id: c\n")
		for i := 0; b.Len() < size; i++ {
			fmt.Fprintf(&b, "k%d: v\n", i)
		}
		return configMap("flink-conf.yaml", b.String())
	}},
	{"config-yaml-flow-list", "a config.yaml ConfigMap holding one flow-style list of ~700k items", [3]string{"", "v1", "ConfigMap"}, func(size int) any {
		var b strings.Builder
		b.WriteString("kubernetes:\n  cluster-id: c\nitems: [")
		for b.Len() < size {
			b.WriteString("a, ")
		}
		b.WriteString("a]\n")
		return configMap("config.yaml", b.String())
	}},
	{"not-flink", "a ConfigMap of another product with a 3 MiB config.yaml of nested mappings", [3]string{"", "v1", "ConfigMap"}, func(size int) any {
		var b strings.Builder
		for i := 0; b.Len() < size; i++ {
			fmt.Fprintf(&b, "dex%d:\n  issuer: https://example.com\n", i)
		}
		return configMap("config.yaml", b.String())
	}},
	{"flinkdeployment-keys", "a FlinkDeployment with ~90k flinkConfiguration keys", [3]string{"flink.apache.org", "v1beta1", "FlinkDeployment"}, func(size int) any {
		conf := map[string]string{"kubernetes.cluster-id": "c"}
		for n := 0; n < size; n += 30 {
			conf["key"+strconv.Itoa(len(conf))] = "value"
		}
		return map[string]any{
			"apiVersion": "flink.apache.org/v1beta1", "kind": "FlinkDeployment",
			"metadata": map[string]any{"name": "big", "namespace": "team"},
			"spec": map[string]any{"image": "flink:1.20", "flinkVersion": "v1_20", "flinkConfiguration": conf,
				"jobManager":  map[string]any{"resource": map[string]any{"memory": "2048m", "cpu": 1}},
				"taskManager": map[string]any{"resource": map[string]any{"memory": "2048m", "cpu": 1}}},
		}
	}},
}

func deployment(args []string, env []map[string]string) any {
	c := map[string]any{"name": "jobmanager", "image": "flink:1.20", "args": args}
	if env != nil {
		c["env"] = env
	}
	labels := map[string]any{"app": "flink", "component": "jobmanager"}
	return map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "flink-jobmanager", "namespace": "team"},
		"spec": map[string]any{"replicas": 1, "selector": map[string]any{"matchLabels": labels},
			"template": map[string]any{"metadata": map[string]any{"labels": labels},
				"spec": map[string]any{"containers": []any{c}}}},
	}
}

func configMap(key, value string) any {
	return map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "flink-config", "namespace": "team"}, "data": map[string]string{key: value}}
}

// review is an AdmissionReview of the shape as close under 3 MiB as the
// shape's JSON encoding allows.
func review(s shape) ([]byte, error) {
	size := budget
	for {
		body, err := reviewOf(s, size)
		if err != nil || len(body) <= budget {
			return body, err
		}
		size = size * budget / len(body) * 99 / 100
	}
}

func reviewOf(s shape, size int) ([]byte, error) {
	obj, err := json.Marshal(s.object(size))
	if err != nil {
		return nil, err
	}
	resource := strings.ToLower(s.kind[2]) + "s"
	return json.Marshal(map[string]any{
		"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
		"request": map[string]any{
			"uid": "load", "kind": map[string]string{"group": s.kind[0], "version": s.kind[1], "kind": s.kind[2]},
			"resource":  map[string]string{"group": s.kind[0], "version": s.kind[1], "resource": resource},
			"namespace": "team", "operation": "CREATE", "object": json.RawMessage(obj),
			"userInfo": map[string]any{"username": "load"},
		},
	})
}

func run(concurrency, rounds int, timeout, deadline time.Duration, names []string, bin string, serveArgs []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	dir, err := os.MkdirTemp("", "flink-ha-webhook-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if bin == "" {
		bin = filepath.Join(dir, "flink-ha-webhook")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/webhook")
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("building ./cmd/webhook (run from the repository's root): %w", err)
		}
	}
	var chosen []shape
	for _, n := range names {
		i := slices.IndexFunc(allShapes, func(s shape) bool { return s.name == n })
		if i < 0 {
			return fmt.Errorf("no shape %q; shapes: %s", n, strings.Join(shapeNames(), ", "))
		}
		chosen = append(chosen, allShapes[i])
	}

	fmt.Printf("%-22s %-9s %-28s %-10s %-10s %s\n", "shape", "webhook", "answers", "slowest", "peak RSS", "review size")
	for _, s := range chosen {
		body, err := review(s)
		if err != nil {
			return err
		}
		for _, hook := range []string{"mutate", "validate"} {
			// A fresh server per shape and webhook: the peak is theirs.
			srv, err := start(ctx, dir, bin, serveArgs)
			if err != nil {
				return err
			}
			codes, slowest, err := send(ctx, srv, hook, body, concurrency, rounds, timeout)
			peak := srv.peakRSS()
			srv.stop()
			if err != nil {
				return err
			}
			fmt.Printf("%-22s %-9s %-28s %-10s %-10s %.2f MiB\n", s.name, hook, codes, slowest.Round(time.Millisecond),
				fmt.Sprintf("%.0f MiB", float64(peak)/(1<<20)), float64(len(body))/(1<<20))
		}
	}
	return nil
}

type server struct {
	cmd  *exec.Cmd
	addr string
	logs bytes.Buffer
}

func start(ctx context.Context, dir, bin string, extra []string) (*server, error) {
	certDir := filepath.Join(dir, "tls")
	if err := writeCert(certDir); err != nil {
		return nil, err
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`), 0o600); err != nil {
		return nil, err
	}
	policy := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policy, []byte("storageDir: s3://flink-ha/{namespace}/{clusterId}\n"), 0o600); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	probe, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &server{addr: fmt.Sprintf("127.0.0.1:%d", port)}
	args := append([]string{"serve", "--cert-dir", certDir, "--port", strconv.Itoa(port), "--policy", policy,
		"--health-probe-bind-address", fmt.Sprintf("127.0.0.1:%d", probe), "--metrics-bind-address", "0",
		"--kubeconfig", kubeconfig, "--safety-net=false", "--ensure-accounts=false", "--check-collisions=false",
		"--namespace-policies=false", "--audit-interval=0", "--shutdown-delay=0s"}, extra...)
	s.cmd = exec.CommandContext(ctx, bin, args...)
	s.cmd.Stdout, s.cmd.Stderr = &s.logs, &s.logs
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	for range 300 {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", probe))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.stop()
	return nil, fmt.Errorf("serve not ready within 30s: %s", s.logs.String())
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	_ = s.cmd.Wait()
}

// peakRSS is the process's high-water mark of resident memory.
func (s *server) peakRSS() int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return -1
}

// send posts rounds of concurrent reviews and counts the answers by
// status; "timeout" is an answer later than the webhook timeout.
func send(ctx context.Context, s *server, hook string, body []byte, concurrency, rounds int, timeout time.Duration) (string, time.Duration, error) {
	// One HTTP/2 connection, as the API server keeps.
	client := &http.Client{Timeout: timeout, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // the tool's own self-signed certificate, on loopback
		ForceAttemptHTTP2: true,
	}}
	defer client.CloseIdleConnections()
	url := fmt.Sprintf("https://%s/%s?timeout=%s", s.addr, hook, timeout)
	var mu sync.Mutex
	codes := map[string]int{}
	var slowest time.Duration
	for range rounds {
		var wg sync.WaitGroup
		for range concurrency {
			wg.Go(func() {
				start := time.Now()
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
				if err != nil {
					return
				}
				req.Header.Set("Content-Type", "application/json")
				code := "error"
				resp, err := client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = strconv.Itoa(resp.StatusCode)
				} else if strings.Contains(err.Error(), "Timeout") || strings.Contains(err.Error(), "deadline") {
					code = "timeout"
				}
				took := time.Since(start)
				mu.Lock()
				codes[code]++
				slowest = max(slowest, took)
				mu.Unlock()
			})
		}
		wg.Wait()
		if err := ctx.Err(); err != nil {
			return "", 0, fmt.Errorf("deadline: %w", err)
		}
	}
	keys := make([]string, 0, len(codes))
	for k := range codes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s×%d", k, codes[k]))
	}
	return strings.Join(parts, " "), slowest, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func writeCert(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "load"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "tls.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
}

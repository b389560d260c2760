package controlplane

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// DefaultControllers are the kube-controller-manager controllers a plane runs:
// enough for Deployments, StatefulSets and Jobs to make Pods, for owned
// objects to be garbage-collected, for namespaces to be deleted and to get
// their default ServiceAccount.
var DefaultControllers = []string{
	"garbage-collector-controller",
	"serviceaccount-controller",
	"deployment-controller",
	"replicaset-controller",
	"statefulset-controller",
	"job-controller",
	"namespace-controller",
}

// Options says what a plane runs besides kube-apiserver and etcd.
type Options struct {
	// ControllerManager starts kube-controller-manager.
	ControllerManager bool
	// Controllers overrides DefaultControllers.
	Controllers []string
	// CRDDirectories are installed before Start returns.
	CRDDirectories []string
	// WebhookDirectories hold webhook configurations to install, their
	// clientConfig pointed at a local HTTPS endpoint whose serving
	// certificate Plane.Webhook describes.
	WebhookDirectories []string
	// Log receives the output of the control-plane processes; nil discards it
	// unless FLINK_HA_WEBHOOK_CONTROLPLANE_LOG names a file to append it to.
	Log io.Writer
}

// WebhookEndpoint is the local address the installed webhook configurations
// call, and the directory holding the certificate (tls.crt, tls.key) to
// serve there, signed by a CA the configurations trust.
type WebhookEndpoint struct {
	Host    string
	Port    int
	CertDir string
}

// Plane is a running control plane.
type Plane struct {
	// Config is an admin client configuration.
	Config *rest.Config
	// Clientset is an admin clientset.
	Clientset kubernetes.Interface
	// Kubeconfig is the path of an admin kubeconfig file for kubectl.
	Kubeconfig string
	// Assets is the directory holding the real binaries.
	Assets string
	// Webhook is where the API server expects the webhook server, when
	// Options.WebhookDirectories was set.
	Webhook WebhookEndpoint

	env      *envtest.Environment
	dir      string
	kcm      *exec.Cmd
	kcmDone  chan struct{}
	log      io.Writer
	logFile  *os.File
	stopOnce sync.Once
	stopErr  error
	sigStop  func()
}

// Start brings a plane up and returns once the API server answers (and, with
// a controller manager, once it runs).
func Start(opts Options) (p *Plane, err error) {
	assets, err := Assets()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "flink-ha-webhook-controlplane-")
	if err != nil {
		return nil, err
	}
	// Every error return sets p to nil before deferred calls run: the
	// cleanup stops the plane it holds itself.
	plane := &Plane{Assets: assets, dir: dir, log: opts.Log}
	p = plane
	defer func() {
		if err != nil {
			_ = plane.Stop()
			p = nil
		}
	}()
	if p.log == nil {
		p.log = io.Discard
		if path := os.Getenv("FLINK_HA_WEBHOOK_CONTROLPLANE_LOG"); path != "" {
			f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
			if err != nil {
				return nil, err
			}
			p.log, p.logFile = f, f
		}
	}

	wrappers, err := wrapperDir(dir)
	if err != nil {
		return nil, err
	}
	os.Setenv(envReexecDir, assets)
	os.Setenv(envReexecParent, strconv.Itoa(os.Getpid()))

	p.env = &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     opts.CRDDirectories,
		ErrorIfCRDPathMissing: true,
		WebhookInstallOptions: envtest.WebhookInstallOptions{Paths: opts.WebhookDirectories, IgnoreErrorIfPathMissing: false},
	}
	p.env.ControlPlane.Etcd = &envtest.Etcd{Path: filepath.Join(wrappers, "etcd"), Out: p.log, Err: p.log}
	api := p.env.ControlPlane.GetAPIServer()
	api.Path = filepath.Join(wrappers, "kube-apiserver")
	api.Out, api.Err = p.log, p.log
	if opts.ControllerManager {
		// envtest turns the ServiceAccount admission off, for want of the
		// controller that makes each namespace's default account; this
		// plane runs that controller, so pods are admitted as in a
		// cluster: under an account that exists, with its image pull
		// secrets.
		api.Configure().Disable("disable-admission-plugins")
	}
	p.env.ControlPlane.KubectlPath = filepath.Join(assets, "kubectl")

	p.interruptible()
	if _, err := p.env.Start(); err != nil {
		return nil, fmt.Errorf("starting kube-apiserver and etcd from %s: %w", assets, err)
	}

	if len(opts.WebhookDirectories) > 0 {
		w := p.env.WebhookInstallOptions
		p.Webhook = WebhookEndpoint{Host: w.LocalServingHost, Port: w.LocalServingPort, CertDir: w.LocalServingCertDir}
	}

	admin, err := p.env.ControlPlane.AddUser(envtest.User{Name: "flink-ha-webhook-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, fmt.Errorf("adding the admin user: %w", err)
	}
	p.Config = admin.Config()
	kubeconfig, err := admin.KubeConfig()
	if err != nil {
		return nil, fmt.Errorf("writing the admin kubeconfig: %w", err)
	}
	p.Kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(p.Kubeconfig, kubeconfig, 0o600); err != nil {
		return nil, err
	}
	if p.Clientset, err = kubernetes.NewForConfig(p.Config); err != nil {
		return nil, err
	}

	if opts.ControllerManager {
		controllers := opts.Controllers
		if len(controllers) == 0 {
			controllers = DefaultControllers
		}
		if err := p.startControllerManager(controllers); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (p *Plane) startControllerManager(controllers []string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	// The controllers act as kube-controller-manager does in a cluster,
	// under a system: name.
	kcmUser, err := p.env.ControlPlane.AddUser(envtest.User{Name: "system:kube-controller-manager", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("adding the controller manager's user: %w", err)
	}
	kubeconfig, err := kcmUser.KubeConfig()
	if err != nil {
		return err
	}
	kcmKubeconfig := filepath.Join(p.dir, "kube-controller-manager.kubeconfig")
	if err := os.WriteFile(kcmKubeconfig, kubeconfig, 0o600); err != nil {
		return err
	}
	p.kcm = exec.Command(filepath.Join(p.Assets, "kube-controller-manager"),
		"--kubeconfig="+kcmKubeconfig,
		"--controllers="+strings.Join(controllers, ","),
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(port),
		"--cert-dir="+filepath.Join(p.dir, "kube-controller-manager"),
		"--concurrent-gc-syncs=5",
		"--v=1",
	)
	p.kcm.Stdout, p.kcm.Stderr = p.log, p.log
	p.kcm.SysProcAttr = tiedToParent()
	if err := p.kcm.Start(); err != nil {
		return fmt.Errorf("starting kube-controller-manager: %w", err)
	}
	p.kcmDone = make(chan struct{})
	go func() { _ = p.kcm.Wait(); close(p.kcmDone) }()

	// /healthz is served to anonymous clients by default and turns ok once
	// the controllers have been started.
	healthz := fmt.Sprintf("https://127.0.0.1:%d/healthz", port)
	client := &http.Client{
		Timeout:   time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, // self-signed serving cert of a local test process
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.kcmDone:
			return errors.New("kube-controller-manager exited during start-up; set FLINK_HA_WEBHOOK_CONTROLPLANE_LOG=FILE to see why")
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := client.Get(healthz)
		if err != nil {
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return nil
		}
	}
	return errors.New("kube-controller-manager did not report healthy within 60s; set FLINK_HA_WEBHOOK_CONTROLPLANE_LOG=FILE to see why")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// interruptible stops the plane cleanly on SIGINT or SIGTERM before the test
// binary exits; the parent-death signal covers every harsher ending.
func (p *Plane) interruptible() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			fmt.Fprintf(os.Stderr, "controlplane: %v: stopping the control plane\n", sig)
			_ = p.Stop()
			os.Exit(130)
		case <-done:
		}
	}()
	p.sigStop = func() { signal.Stop(ch); close(done) }
}

// Stop stops every process of the plane and removes its files. It is safe to
// call more than once.
func (p *Plane) Stop() error {
	p.stopOnce.Do(func() {
		var errs []error
		if p.kcm != nil && p.kcm.Process != nil {
			_ = p.kcm.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.kcmDone:
			case <-time.After(10 * time.Second):
				_ = p.kcm.Process.Kill()
				<-p.kcmDone
			}
		}
		if p.env != nil {
			if err := p.env.Stop(); err != nil {
				errs = append(errs, fmt.Errorf("stopping kube-apiserver and etcd: %w", err))
			}
		}
		if p.sigStop != nil {
			p.sigStop()
		}
		if p.logFile != nil {
			_ = p.logFile.Close()
		}
		if err := os.RemoveAll(p.dir); err != nil {
			errs = append(errs, err)
		}
		p.stopErr = errors.Join(errs...)
	})
	return p.stopErr
}

// Run starts a plane for a test binary, runs its tests and stops the plane
// even when a test panics. Each setup function runs on the started plane
// and may return a function that undoes it before the plane stops. Use it
// from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(controlplane.Run(m, opts, &plane)) }
func Run(m *testing.M, opts Options, plane **Plane, setup ...func(*Plane) (func(), error)) (code int) {
	p, err := Start(opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "controlplane: %v\n", err)
		return 1
	}
	*plane = p
	defer func() {
		if err := p.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "controlplane: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}()
	for _, s := range setup {
		undo, err := s(p)
		if err != nil {
			fmt.Fprintf(os.Stderr, "controlplane: %v\n", err)
			return 1
		}
		if undo != nil {
			defer undo()
		}
	}
	return m.Run()
}

var nonName = regexp.MustCompile(`[^a-z0-9-]+`)

// Namespace creates a namespace for one test, named after it, and deletes
// it when the test ends.
func (p *Plane) Namespace(t testing.TB) string {
	t.Helper()
	base := strings.Trim(nonName.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(base) > 40 {
		base = strings.TrimRight(base[:40], "-")
	}
	name := base + "-" + rand.String(5)
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := p.Clientset.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = p.Clientset.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return name
}

// Kubectl runs the real kubectl against the plane as an administrator, with
// stdin as its standard input, and returns what it printed.
func (p *Plane) Kubectl(ctx context.Context, stdin string, args ...string) (stdout, stderr string, err error) {
	cmd := exec.CommandContext(ctx, filepath.Join(p.Assets, "kubectl"), append([]string{"--kubeconfig=" + p.Kubeconfig}, args...)...)
	cmd.SysProcAttr = tiedToParent()
	cmd.Env = append(os.Environ(), "KUBECONFIG="+p.Kubeconfig, "HOME="+p.dir)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	if err != nil {
		err = fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errOut.String()))
	}
	return out.String(), errOut.String(), err
}

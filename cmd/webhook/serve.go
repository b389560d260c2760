package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-logr/logr"

	"go.uber.org/zap/zapcore"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/flink-ha-webhook/flink-ha-webhook/accounts"
	"github.com/flink-ha-webhook/flink-ha-webhook/handler"
	"github.com/flink-ha-webhook/flink-ha-webhook/nspolicy"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
	"github.com/flink-ha-webhook/flink-ha-webhook/report"
	"github.com/flink-ha-webhook/flink-ha-webhook/safetynet"
)

func serve(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	policyPath := fs.String("policy", "", "policy file (YAML); without one every Flink cluster is made HA and storageDir must be given")
	certDir := fs.String("cert-dir", "/etc/flink-ha-webhook/tls", "directory with tls.crt and tls.key, reloaded when they change")
	port := fs.Int("port", 9443, "port of the webhook's HTTPS server")
	metricsAddr := fs.String("metrics-bind-address", ":8080", "address of the Prometheus metrics endpoint; 0 disables it")
	probeAddr := fs.String("health-probe-bind-address", ":8081", "address of /healthz and /readyz")
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file; in a pod the service account is used")
	debug := fs.Bool("debug", false, "log every admission request (never whole objects)")
	safetyNet := fs.Bool("safety-net", true, "remove owner references from HA ConfigMaps that got them while the webhook was unavailable")
	ensureAccounts := fs.Bool("ensure-accounts", true, "create the policy's service account, its Role and RoleBinding where Flink runs under it")
	checkCollisions := fs.Bool("check-collisions", true, "deny a cluster whose cluster-id or HA storage path another cluster uses (needs the API server)")
	auditInterval := fs.Duration("audit-interval", 10*time.Minute, "how often the leader audits every Flink cluster for the gauges and policy reports; 0 disables it")
	crdInterval := fs.Duration("crd-discovery-interval", 30*time.Second, "while the FlinkDeployment CRD is not installed, how often to ask the API server whether it is; once it is, FlinkDeployments are watched without a restart")
	keepIdentities := fs.Bool("keep-default-identities", true, "keep Flink's pods under a namespace's default account where it carries a cloud workload identity (eks.amazonaws.com/role-arn, iam.gke.io/gcp-service-account, azure.workload.identity/client-id), which the policy's account would not (needs the API server)")
	holdBackStandalone := fs.Bool("hold-back-standalone", true, "where an account of a standalone cluster may not run HA, hold HA back for all the workloads mounting its ConfigMap alike, read from the cache (needs the API server)")
	namespacePolicies := fs.Bool("namespace-policies", true, "apply FlinkHAPolicy resources, where their CRD is installed, over the policy file")
	leaderElect := fs.Bool("leader-elect", false, "run the background reconcilers in one replica at a time (the webhook serves in all)")
	leaderNamespace := fs.String("leader-election-namespace", "", "namespace of the leader election Lease; in a pod, its own")
	clusterRoles := fs.String("flink-cluster-role-prefix", accounts.DefaultClusterRolePrefix, "name prefix of the install's ClusterRoles of Flink's rights (<prefix>:flink-standalone, <prefix>:flink-native)")
	maxReviews := fs.Int("max-concurrent-reviews", 4, "reviews worked on at once; more wait (see --review-queue-timeout), which bounds memory")
	queueTimeout := fs.Duration("review-queue-timeout", 2*time.Second, "how long a review waits for a slot before it is refused with 429")
	maxConns := fs.Int("max-connections", 256, "HTTPS connections accepted at once; more wait in the kernel's backlog")
	shutdownDelay := fs.Duration("shutdown-delay", 10*time.Second, "after SIGTERM, how long to keep serving while unready, so that endpoints and the API server stop sending here first")
	shutdownTimeout := fs.Duration("shutdown-timeout", 15*time.Second, "after the delay, how long reviews in flight may take to finish")
	pprofAddr := fs.String("pprof-bind-address", "", "loopback address (127.0.0.1:6060) of Go's /debug/pprof/ profiles; empty disables it")
	if err := fs.Parse(args); err != nil {
		return 2
	}

	fail := func(err error) int {
		fmt.Fprintf(stderr, "flink-ha-webhook: %v\n", err)
		return 1
	}
	if *crdInterval <= 0 {
		return fail(fmt.Errorf("--crd-discovery-interval %s: expected a positive duration, such as 30s", *crdInterval))
	}
	p, err := policy.LoadOrDefault(*policyPath)
	if err != nil {
		return fail(err)
	}
	level := zapcore.InfoLevel
	if *debug {
		level = zapcore.DebugLevel
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(stderr), zap.Level(level), zap.JSONEncoder()))
	log := ctrl.Log.WithName("serve")

	cfg, err := apiServerConfig(*kubeconfig)
	if err != nil {
		return fail(err)
	}
	// The account reconciler, the collision check, the safety net and
	// the workloads mounting each ConfigMap share one informer per kind, slimmed to what they read
	// (accounts.CacheOptions, accounts.Transform). ByObject entries need
	// the API server's discovery at start, so only where something
	// watches them.
	caches := cache.Options{DefaultTransform: accounts.Transform(), DefaultWatchErrorHandler: informerErrors(ctrl.Log.WithName("cache"))}
	if *ensureAccounts || *checkCollisions || *holdBackStandalone {
		caches.ByObject = accounts.CacheOptions()
	}
	// The manager waits for the HTTPS server's own shutdown, then some.
	grace := *shutdownTimeout + 5*time.Second
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Cache: caches,
		// The account reconciler's reads of FlinkDeployments come from
		// the informer it watches them with, not from a list of every
		// FlinkDeployment of the namespace at the API server per
		// reconcile.
		Client:                        client.Options{Cache: &client.CacheOptions{Unstructured: true}},
		Metrics:                       metricsserver.Options{BindAddress: *metricsAddr},
		HealthProbeBindAddress:        *probeAddr,
		LeaderElection:                *leaderElect,
		LeaderElectionID:              "flink-ha-webhook",
		LeaderElectionNamespace:       *leaderNamespace,
		LeaderElectionReleaseOnCancel: true,
		GracefulShutdownTimeout:       &grace,
	})
	if err != nil {
		return fail(err)
	}
	var live *nspolicy.Live
	if *namespacePolicies {
		if live, err = nspolicy.Setup(context.Background(), mgr, p); err != nil {
			return fail(err)
		}
	}
	checker, err := handler.NewSubjectAccessReviewsForConfig(cfg)
	if err != nil {
		return fail(err)
	}
	// Reviews waiting for the authorizer's first answer about an account
	// hold review slots: at most half of them.
	checker.MaxWaiting = max(1, *maxReviews/2)
	if err := mgr.Add(checker); err != nil {
		return fail(err)
	}
	var collisions *handler.Collisions
	if *checkCollisions {
		if collisions, err = handler.SetupCollisions(context.Background(), mgr); err != nil {
			return fail(err)
		}
	}
	// A standalone cluster's ConfigMap and workloads are held back alike:
	// the workloads mounting a ConfigMap are read from the cache.
	var mounts *handler.Mounts
	if *holdBackStandalone {
		if mounts, err = handler.SetupMounts(context.Background(), mgr); err != nil {
			return fail(err)
		}
	}
	// Default accounts that carry a cloud workload identity keep Flink
	// under them, and the account reconciler copies their pull secrets:
	// every namespace's is read from a watch of its own.
	var defaultAccounts *accounts.DefaultAccounts
	if *keepIdentities || *ensureAccounts {
		if defaultAccounts, err = accounts.NewDefaultAccounts(cfg); err != nil {
			return fail(err)
		}
		if err := defaultAccounts.SetWatchErrorHandler(informerErrors(ctrl.Log.WithName("cache"))); err != nil {
			return fail(err)
		}
		if err := mgr.Add(defaultAccounts); err != nil {
			return fail(err)
		}
	}
	var defaults handler.DefaultIdentities
	if *keepIdentities {
		defaults = defaultAccounts
	}
	mutating := nspolicy.PerNamespace(live, p, func(p *policy.Policy) admission.Handler {
		h := handler.WithDefaultIdentities(handler.WithMounts(handler.MutatingHoldingBack(p, checker), mounts), defaults)
		return handler.Recording(h)
	})
	validating := nspolicy.PerNamespace(live, p, func(p *policy.Policy) admission.Handler {
		return handler.WithDefaultIdentities(handler.WithMounts(handler.ValidatingWithCollisions(p, checker, collisions), mounts), defaults)
	})
	limit := handler.NewLimiter(*maxReviews, *queueTimeout)
	mux := http.NewServeMux()
	mux.Handle(handler.MutatePath, handler.Serve("mutate", mutating, limit))
	mux.Handle(handler.ValidatePath, handler.Serve("validate", validating, limit))
	srv := newHTTPSServer(fmt.Sprintf(":%d", *port), *certDir, mux, *maxConns, *shutdownTimeout, ctrl.Log.WithName("https"))
	if *keepIdentities {
		// A review before the watch has listed them would move Flink off
		// an account whose identity it needs.
		srv.waitFor = append(srv.waitFor, defaultAccounts.WaitForSync)
	}
	if err := mgr.Add(srv); err != nil {
		return fail(err)
	}
	if err := mgr.AddHealthzCheck("webhook", srv.Healthy); err != nil {
		return fail(err)
	}
	if err := mgr.AddReadyzCheck("webhook", srv.Ready); err != nil {
		return fail(err)
	}
	if *pprofAddr != "" {
		prof, err := pprofServer(*pprofAddr)
		if err != nil {
			return fail(err)
		}
		if err := mgr.Add(prof); err != nil {
			return fail(err)
		}
	}
	// What reads FlinkDeployments watches them once their CRD is
	// installed, whether before serve starts or after.
	var watchFlinkDeployments []func(context.Context) error
	if collisions != nil {
		watchFlinkDeployments = append(watchFlinkDeployments, collisions.WatchFlinkDeployments)
	}
	if *ensureAccounts {
		reconciler, err := accounts.Setup(mgr, p, live, *clusterRoles)
		if err != nil {
			return fail(err)
		}
		if err := reconciler.WatchDefaultAccounts(defaultAccounts); err != nil {
			return fail(err)
		}
		watchFlinkDeployments = append(watchFlinkDeployments, func(context.Context) error { return reconciler.WatchFlinkDeployments() })
	}
	if len(watchFlinkDeployments) > 0 {
		if err := mgr.Add(&lateKind{mapper: mgr.GetRESTMapper(), kind: accounts.FlinkDeploymentGVK, interval: *crdInterval,
			watch: watchFlinkDeployments, log: ctrl.Log.WithName("crd")}); err != nil {
			return fail(err)
		}
	}
	if *safetyNet {
		if err := safetynet.Setup(mgr, p, live); err != nil {
			return fail(err)
		}
	}
	if *auditInterval > 0 {
		var policyFor func(context.Context, string) (*policy.Policy, error)
		if live != nil {
			policyFor = live.For
		}
		if err := report.Setup(mgr, p, policyFor, *auditInterval); err != nil {
			return fail(err)
		}
	}
	log.Info("starting", "port", *port, "certDir", *certDir, "mode", p.Mode, "enforcement", p.Enforcement,
		"maxConcurrentReviews", *maxReviews)
	if err := mgr.Start(drainOnSignal(srv, *shutdownDelay, log)); err != nil {
		log.Error(err, "stopped")
		return 1
	}
	return 0
}

// apiServerConfig is serve's client configuration: kubeconfig's, or the
// pod's service account's when kubeconfig is empty, without compression.
// serve runs beside the API server, on the cluster's network, where gzip
// only costs CPU at both ends: client-go asks for it by default, and the
// API server then compresses every watch stream, an event at a time, and
// every large list, and serve keeps a decompressor per watch.
func apiServerConfig(kubeconfig string) (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("no API server configuration (--kubeconfig, or a pod's service account): %w", err)
	}
	cfg.DisableCompression = true
	return cfg, nil
}

// drainOnSignal returns the manager's context. The first SIGTERM or
// SIGINT makes srv unready at once and ends the context only after delay,
// so that the endpoints controller and the API server stop sending here
// while every review still gets an answer; the manager then waits for
// reviews in flight. A second signal ends the delay early, a third exits.
func drainOnSignal(srv *httpsServer, delay time.Duration, log logr.Logger) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 3)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	go func() {
		sig := <-sigs
		log.Info("draining: unready, still serving", "signal", sig.String(), "for", delay.String())
		srv.Drain()
		select {
		case <-time.After(delay):
		case <-sigs:
		}
		cancel()
		<-sigs
		os.Exit(1)
	}()
	return ctx
}

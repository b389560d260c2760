package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
	"github.com/flink-ha-webhook/flink-ha-webhook/handler"
	"github.com/flink-ha-webhook/flink-ha-webhook/rights"
	"github.com/flink-ha-webhook/flink-ha-webhook/test/controlplane"
)

type config struct {
	rounds, perKind, concurrent, clients int
	profile                              profiler
	// serveFlags are added to serve's own (serveArgs).
	serveFlags []string
	// patching adds the mode modePatching.
	patching bool
}

type mode string

const (
	modeNone  mode = "no webhook"
	modeNoop  mode = "no-op webhook"
	modeServe mode = "flink-ha-webhook"
	// modePatching is the no-op webhook answering every mutating review
	// with a patch of one annotation: the floor of any webhook that
	// changes what it admits, for the API server then encodes the object,
	// applies the patch and decodes the result.
	modePatching mode = "patching no-op"
)

// modes are the modes cfg runs, in the order of a round.
func (cfg config) modes() []mode {
	if cfg.patching {
		return []mode{modeNone, modeNoop, modePatching, modeServe}
	}
	return []mode{modeNone, modeNoop, modeServe}
}

// ours matches every webhook of flink-ha-webhook in WebhookStats.
const ours = ".webhook.flink-ha"

// policy is the policy serve runs with: a storageDir template, so that
// every Flink object is completed.
const policy = "storageDir: s3://flink-ha/{namespace}/{clusterId}\n"

type bench struct {
	cfg     config
	plane   *controlplane.Plane
	client  dynamic.Interface
	bin     string
	noopBin string
	// env is the deployment's environment for the webhooks' Go runtime.
	env []string
	// apiserver is the kube-apiserver process.
	apiserver  int
	mutating   *admissionregistrationv1.MutatingWebhookConfiguration
	validating *admissionregistrationv1.ValidatingWebhookConfiguration
	serve      *controlplane.WebhookServer
	noop       *noop
	noopMode   mode
	probeNS    string
	namespaces int

	// results, by mode
	sequential, concurrent map[mode][]time.Duration
	// the API server's webhook calls, by workload: sequential, concurrent
	calls [2]map[mode]controlplane.WebhookStats
	// serve's own account of its reviews, by workload and webhook: the
	// time from a review's arrival to its answer, and how many
	serveTime [2]map[string]*[2]float64
	cpu       map[mode]*cpuUse
	rss       map[mode]*rssSampler
	reapply   reapplyCounts
	// serve's own account of itself, over its rounds
	serveRequests map[string]*[3]float64 // by HTTP method: at start, during the rounds; the count when this round began
	servePID      int
	serveHeap     []heapSample
}

// cpuUse is the CPU time the API server and the webhook process used
// during a mode's rounds, and how long they took.
type cpuUse struct {
	wall, apiserver, webhook time.Duration
	objects                  int
}

// heapSample is serve's Go heap at the end of a round, as its runtime
// reports it: what the last collection found live, and the size the
// heap may reach before the next.
type heapSample struct{ live, goal float64 }

// reapplyCounts are the webhook calls of updates that change nothing the
// rules read.
type reapplyCounts struct {
	objects, deployments                 int
	controller                           float64 // UPDATE calls while the deployment controller updated the Deployments
	unchanged                            float64 // every object updated with itself
	unchangedBy                          controlplane.WebhookStats
	asWrittenMutating, asWrittenValidate float64 // every manifest applied again as written
}

func run(ctx context.Context, cfg config, out io.Writer) error {
	dir, err := os.MkdirTemp("", "flink-ha-webhook-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	b := &bench{cfg: cfg, sequential: map[mode][]time.Duration{}, concurrent: map[mode][]time.Duration{},
		calls: [2]map[mode]controlplane.WebhookStats{{}, {}}, serveTime: [2]map[string]*[2]float64{{}, {}},
		cpu: map[mode]*cpuUse{}, rss: map[mode]*rssSampler{modeNoop: {}, modePatching: {}, modeServe: {}}, serveRequests: map[string]*[3]float64{}}
	modes := cfg.modes()
	for _, m := range modes {
		b.cpu[m] = &cpuUse{}
	}
	fmt.Fprintln(os.Stderr, "bench: starting the control plane and building serve")
	if b.env, err = deploymentEnv(); err != nil {
		return err
	}
	if b.bin, err = controlplane.Build(dir, "flink-ha-webhook", "./cmd/webhook", true); err != nil {
		return err
	}
	if b.noopBin, err = controlplane.Build(dir, "noop", "./test/bench/noop", true); err != nil {
		return err
	}
	b.plane, err = controlplane.Start(controlplane.Options{
		ControllerManager:  true,
		CRDDirectories:     []string{"test/e2e/testdata/crds"},
		WebhookDirectories: []string{"manifests/webhook"},
	})
	if err != nil {
		return err
	}
	defer b.plane.Stop()
	defer b.stopServers()
	if b.apiserver, err = findProcess("kube-apiserver", os.Getpid()); err != nil {
		return fmt.Errorf("finding the API server's process: %w", err)
	}

	rc := rest.CopyConfig(b.plane.Config)
	rc.RateLimiter = flowcontrol.NewFakeAlwaysRateLimiter() // the API server, not the client, sets the pace
	if b.client, err = dynamic.NewForConfig(rc); err != nil {
		return err
	}
	adm := b.plane.Clientset.AdmissionregistrationV1()
	if b.mutating, err = adm.MutatingWebhookConfigurations().Get(ctx, "flink-ha-webhook", metav1.GetOptions{}); err != nil {
		return err
	}
	if b.validating, err = adm.ValidatingWebhookConfigurations().Get(ctx, "flink-ha-webhook", metav1.GetOptions{}); err != nil {
		return err
	}
	if b.probeNS, err = b.namespace(ctx, "probe"); err != nil {
		return err
	}

	seq, err := workload(3 * cfg.perKind)
	if err != nil {
		return err
	}
	conc, err := workload(cfg.concurrent)
	if err != nil {
		return err
	}
	warm, err := workload(30)
	if err != nil {
		return err
	}
	for _, m := range modes {
		fmt.Fprintf(os.Stderr, "bench: warming up with %s\n", m)
		if err := b.setMode(ctx, m); err != nil {
			return err
		}
		ns, err := b.namespace(ctx, "warm")
		if err != nil {
			return err
		}
		if _, err := create(ctx, b.client, ns, warm, 1); err != nil {
			return err
		}
	}
	fmt.Fprintln(os.Stderr, "bench: counting the webhook calls of updates")
	if err := b.setMode(ctx, modeServe); err != nil {
		return err
	}
	ns, err := b.namespace(ctx, "updates")
	if err != nil {
		return err
	}
	start, err := b.plane.WebhookStats(ctx)
	if err != nil {
		return err
	}
	if _, err := create(ctx, b.client, ns, seq, 1); err != nil {
		return err
	}
	if err := b.measureReapply(ctx, ns, seq, start); err != nil {
		return err
	}
	if err := b.deleteNamespaces(ctx, ns); err != nil {
		return err
	}
	for r := range cfg.rounds {
		for i := range modes {
			m := modes[(r+i)%len(modes)]
			fmt.Fprintf(os.Stderr, "bench: round %d/%d: %s\n", r+1, cfg.rounds, m)
			if err := b.round(ctx, m, seq, conc); err != nil {
				return fmt.Errorf("round %d, %s: %w", r+1, m, err)
			}
		}
	}
	b.report(out)
	return nil
}

// deleteNamespaces deletes the namespaces names and waits until they are
// gone, so that every round starts from the same cluster: what serve
// caches, and what the API server stores and serves, is one round's
// objects, not every earlier round's of every mode.
func (b *bench) deleteNamespaces(ctx context.Context, names ...string) error {
	nss := b.plane.Clientset.CoreV1().Namespaces()
	for _, name := range names {
		if err := nss.Delete(ctx, name, metav1.DeleteOptions{}); client.IgnoreNotFound(err) != nil {
			return err
		}
	}
	deadline := time.Now().Add(3 * time.Minute)
	for _, name := range names {
		for {
			_, err := nss.Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				break
			}
			if err != nil {
				return err
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("namespace %s was not deleted within 3 minutes", name)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return nil
}

// namespace makes a namespace for a part of the workload, with the account
// its FlinkDeployments name (flink) bound to what a native cluster needs,
// as the operator's install binds it in the namespaces it watches: the
// webhook makes them HA (it holds HA back for accounts that cannot run
// it). It returns once the authorizer allows the account.
func (b *bench) namespace(ctx context.Context, prefix string) (string, error) {
	b.namespaces++
	name := fmt.Sprintf("bench-%s-%d", prefix, b.namespaces)
	cs := b.plane.Clientset
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		return name, err
	}
	if _, err := cs.CoreV1().ServiceAccounts(name).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "flink"}}, metav1.CreateOptions{}); err != nil {
		return name, err
	}
	if _, err := cs.RbacV1().Roles(name).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "flink"},
		Rules: rights.Rules(rights.Native, flinkconf.Supported)}, metav1.CreateOptions{}); err != nil {
		return name, err
	}
	if _, err := cs.RbacV1().RoleBindings(name).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "flink"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "flink", Namespace: name}},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "flink"}}, metav1.CreateOptions{}); err != nil {
		return name, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		review, err := cs.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:               "system:serviceaccount:" + name + ":flink",
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: name, Verb: "patch", Resource: "configmaps"},
		}}, metav1.CreateOptions{})
		switch {
		case err != nil:
			return name, err
		case review.Status.Allowed:
			return name, nil
		case time.Now().After(deadline):
			return name, fmt.Errorf("the authorizer did not allow the account flink in %s its Role within 30s", name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// round creates the sequential workload and then the concurrent one with
// mode m in place, each in a namespace of its own, and deletes both
// namespaces once it has measured.
func (b *bench) round(ctx context.Context, m mode, seq, conc []manifest) error {
	if err := b.setMode(ctx, m); err != nil {
		return err
	}
	if m == modeServe {
		b.cfg.profile.startCPU(ctx)
		if err := b.countRequests(ctx, 0); err != nil {
			return err
		}
	}
	webhook := b.webhookPID()
	use := b.cpu[m]
	var namespaces []string
	for _, w := range []struct {
		objects []manifest
		clients int
		into    map[mode][]time.Duration
		calls   map[mode]controlplane.WebhookStats
		own     map[string]*[2]float64
	}{{seq, 1, b.sequential, b.calls[0], b.serveTime[0]}, {conc, b.cfg.clients, b.concurrent, b.calls[1], b.serveTime[1]}} {
		ns, err := b.namespace(ctx, "load")
		if err != nil {
			return err
		}
		namespaces = append(namespaces, ns)
		before, err := b.plane.WebhookStats(ctx)
		if err != nil {
			return err
		}
		var own map[string][2]float64
		if m == modeServe {
			if own, err = b.reviewTimes(ctx); err != nil {
				return err
			}
		}
		// CPU and time around the creates only: the readings of metrics
		// between them cost the API server and serve CPU too.
		start, apiStart, hookStart := time.Now(), b.cpuOf(b.apiserver), b.cpuOf(webhook)
		lat, err := create(ctx, b.client, ns, w.objects, w.clients)
		if err != nil {
			return err
		}
		use.wall += time.Since(start)
		use.apiserver += b.cpuOf(b.apiserver) - apiStart
		use.webhook += b.cpuOf(webhook) - hookStart
		if m == modeServe {
			now, err := b.reviewTimes(ctx)
			if err != nil {
				return err
			}
			for hook, v := range now {
				t := w.own[hook]
				if t == nil {
					t = &[2]float64{}
					w.own[hook] = t
				}
				t[0] += v[0] - own[hook][0]
				t[1] += v[1] - own[hook][1]
			}
		}
		after, err := b.plane.WebhookStats(ctx)
		if err != nil {
			return err
		}
		w.into[m] = append(w.into[m], lat...)
		w.calls[m] = add(w.calls[m], after.Since(before))
	}
	use.objects += len(seq) + len(conc)
	if r := b.rss[m]; r != nil {
		r.sample()
	}
	if m == modeServe {
		if err := b.countRequests(ctx, 1); err != nil {
			return err
		}
		var h heapSample
		m, err := b.serve.Metrics(ctx)
		if err != nil {
			return err
		}
		if h.live, err = m.Sum("go_gc_heap_live_bytes"); err != nil {
			return err
		}
		if h.goal, err = m.Sum("go_gc_heap_goal_bytes"); err != nil {
			return err
		}
		b.serveHeap = append(b.serveHeap, h)
		if err := b.cfg.profile.finish(ctx); err != nil {
			return err
		}
	}
	return b.deleteNamespaces(ctx, namespaces...)
}

// reviewTimes reads serve's own metric of its reviews: by webhook (mutate,
// validate), the seconds from arrival to answer summed, and their count.
func (b *bench) reviewTimes(ctx context.Context) (map[string][2]float64, error) {
	const name = "flink_ha_webhook_admission_duration_seconds"
	m, err := b.serve.Metrics(ctx)
	if err != nil {
		return nil, err
	}
	times := map[string][2]float64{}
	for _, hook := range []string{"mutate", "validate"} {
		sum, err := m.Sum(name+"_sum", "webhook="+hook)
		if err != nil {
			return nil, err
		}
		n, err := m.Sum(name+"_count", "webhook="+hook)
		if err != nil {
			return nil, err
		}
		times[hook] = [2]float64{sum, n}
	}
	return times, nil
}

// countRequests adds serve's requests to the API server so far, by
// method, to b.serveRequests[...][at] (0: from its start until its round,
// 1: during the round). serve starts afresh before each of its rounds.
func (b *bench) countRequests(ctx context.Context, at int) error {
	for _, method := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		n, err := b.serve.Metric(ctx, "rest_client_requests_total", "method="+method)
		if err != nil {
			return err
		}
		c := b.serveRequests[method]
		if c == nil {
			c = &[3]float64{}
			b.serveRequests[method] = c
		}
		if at == 0 {
			c[0], c[2] = c[0]+n, n
		} else {
			c[1] += n - c[2]
		}
	}
	return nil
}

// webhookPID is the process of the webhook in place, 0 without one.
func (b *bench) webhookPID() int {
	switch {
	case b.serve != nil:
		return b.servePID
	case b.noop != nil:
		return b.noop.pid()
	}
	return 0
}

// cpuOf is the CPU time process pid has used; 0 for none, or one that is
// gone.
func (b *bench) cpuOf(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	d, err := cpuTime(pid)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
	}
	return d
}

func add(sum, d controlplane.WebhookStats) controlplane.WebhookStats {
	if sum == nil {
		sum = controlplane.WebhookStats{}
	}
	for k, v := range d {
		t := sum[k]
		t.Count += v.Count
		t.Seconds += v.Seconds
		sum[k] = t
	}
	return sum
}

// measureReapply counts the webhook calls of the updates that change
// nothing the rules read: the deployment controller's, every stored object
// updated with itself, and every manifest applied again as written.
func (b *bench) measureReapply(ctx context.Context, ns string, objects []manifest, start controlplane.WebhookStats) error {
	r := &b.reapply
	r.objects = len(objects)
	for _, o := range objects {
		if o.resource == deployments {
			r.deployments++
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		list, err := b.client.Resource(deployments).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		done := 0
		for _, d := range list.Items {
			if d.GetAnnotations()["deployment.kubernetes.io/revision"] != "" {
				done++
			}
		}
		if done == r.deployments {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the deployment controller updated %d of %d Deployments in two minutes", done, r.deployments)
		}
		time.Sleep(100 * time.Millisecond)
	}
	now, err := b.plane.WebhookStats(ctx)
	if err != nil {
		return err
	}
	r.controller = now.Since(start).Sum(controlplane.WebhookCall{Name: ours, Operation: "UPDATE"}).Count

	count := func(f func(manifest) error) (controlplane.WebhookStats, error) {
		before, err := b.plane.WebhookStats(ctx)
		if err != nil {
			return nil, err
		}
		for _, o := range objects {
			if err := f(o); err != nil {
				return nil, err
			}
		}
		after, err := b.plane.WebhookStats(ctx)
		if err != nil {
			return nil, err
		}
		return after.Since(before), nil
	}
	unchanged, err := count(func(o manifest) error {
		// The deployment controller may update a Deployment's status
		// between the read and the write: read it again.
		return retry.RetryOnConflict(retry.DefaultRetry, func() error {
			res := b.client.Resource(o.resource).Namespace(ns)
			stored, err := res.Get(ctx, o.object.GetName(), metav1.GetOptions{})
			if err == nil {
				_, err = res.Update(ctx, stored, metav1.UpdateOptions{})
			}
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("updating stored objects with themselves: %w", err)
	}
	r.unchanged, r.unchangedBy = unchanged.Sum(controlplane.WebhookCall{Name: ours}).Count, unchanged
	asWritten, err := count(func(o manifest) error {
		return retry.RetryOnConflict(retry.DefaultRetry, func() error {
			res := b.client.Resource(o.resource).Namespace(ns)
			stored, err := res.Get(ctx, o.object.GetName(), metav1.GetOptions{})
			if err != nil {
				return err
			}
			obj := o.object.DeepCopy()
			obj.SetNamespace(ns)
			obj.SetResourceVersion(stored.GetResourceVersion())
			_, err = res.Update(ctx, obj, metav1.UpdateOptions{})
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("applying the manifests again: %w", err)
	}
	r.asWrittenMutating = asWritten.Sum(controlplane.WebhookCall{Name: ours, Type: "admit"}).Count
	r.asWrittenValidate = asWritten.Sum(controlplane.WebhookCall{Name: ours, Type: "validating"}).Count
	return nil
}

// setMode puts m in place and waits until the API server acts on it: a
// probe (a dry-run create of a Flink ConfigMap) reaches the webhook, or,
// without one, reaches nothing and succeeds.
func (b *bench) setMode(ctx context.Context, m mode) error {
	b.stopServers()
	adm := b.plane.Clientset.AdmissionregistrationV1()
	var err error
	switch m {
	case modeNone:
		err = errors.Join(
			client.IgnoreNotFound(adm.MutatingWebhookConfigurations().Delete(ctx, b.mutating.Name, metav1.DeleteOptions{})),
			client.IgnoreNotFound(adm.ValidatingWebhookConfigurations().Delete(ctx, b.validating.Name, metav1.DeleteOptions{})))
	default:
		mw, vw := b.mutating.DeepCopy(), b.validating.DeepCopy()
		mw.ObjectMeta = metav1.ObjectMeta{Name: mw.Name, Annotations: mw.Annotations}
		vw.ObjectMeta = metav1.ObjectMeta{Name: vw.Name, Annotations: vw.Annotations}
		_, err1 := adm.MutatingWebhookConfigurations().Create(ctx, mw, metav1.CreateOptions{})
		_, err2 := adm.ValidatingWebhookConfigurations().Create(ctx, vw, metav1.CreateOptions{})
		err = errors.Join(client.IgnoreAlreadyExists(err1), client.IgnoreAlreadyExists(err2))
		if err == nil && (m == modeNoop || m == modePatching) {
			var args []string
			if m == modePatching {
				args = []string{"-patch-path", handler.MutatePath}
			}
			if b.noop, err = startNoop(b.noopBin, b.plane.Webhook, b.env, args...); err == nil {
				b.noopMode = m
				b.rss[m].attach(b.noop.pid())
			}
		}
		if err == nil && m == modeServe {
			var pprofAddr string
			if pprofAddr, err = b.cfg.profile.newAddr(); err != nil {
				return err
			}
			// serve inherits the bench's environment.
			for _, kv := range b.env {
				k, v, _ := strings.Cut(kv, "=")
				os.Setenv(k, v)
			}
			b.serve, err = b.plane.ServeWebhookOn(b.bin, policy, b.plane.Webhook.Port, append(serveArgs(pprofAddr), b.cfg.serveFlags...)...)
			for _, kv := range b.env {
				k, _, _ := strings.Cut(kv, "=")
				os.Unsetenv(k)
			}
			if err == nil {
				var abs string
				if abs, err = filepath.Abs(b.bin); err == nil {
					b.servePID, err = findProcess(abs, 0)
				}
			}
			if err == nil {
				b.rss[m].attach(b.servePID)
			}
		}
	}
	if err != nil {
		return err
	}
	probe := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "probe"},
		Data: map[string]string{"flink-conf.yaml": "kubernetes.cluster-id: probe\n"}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		before, err := b.plane.WebhookStats(ctx)
		if err != nil {
			return err
		}
		_, createErr := b.plane.Clientset.CoreV1().ConfigMaps(b.probeNS).Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		after, err := b.plane.WebhookStats(ctx)
		if err != nil {
			return err
		}
		called := after.Since(before).Sum(controlplane.WebhookCall{Name: ours}).Count > 0
		if createErr == nil && called == (m != modeNone) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the API server did not act on %q within 30s (webhook called: %t): %v", m, called, createErr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (b *bench) stopServers() {
	if b.serve != nil {
		b.serve.Stop()
		b.serve, b.servePID = nil, 0
		b.rss[modeServe].detach()
	}
	if b.noop != nil {
		if err := b.noop.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "bench: stopping the no-op webhook:", err)
		}
		b.noop = nil
		b.rss[b.noopMode].detach()
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

func (b *bench) report(out io.Writer) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, w := range []struct {
		title string
		lat   map[mode][]time.Duration
	}{
		{fmt.Sprintf("Sequential creates: %d objects a round (ConfigMap, JobManager Deployment, FlinkDeployment in turn), one client, %d rounds",
			3*b.cfg.perKind, b.cfg.rounds), b.sequential},
		{fmt.Sprintf("Concurrent creates: %d objects a round from %d clients, %d rounds", b.cfg.concurrent, b.cfg.clients, b.cfg.rounds), b.concurrent},
	} {
		fmt.Fprintf(out, "\n%s (ms per object)\n", w.title)
		none, noop, patching := summarise(w.lat[modeNone]), summarise(w.lat[modeNoop]), summarise(w.lat[modePatching])
		head := "mode\tobjects\tmean\tp50\tp99\tmean / none\tmean / no-op\tp99 / no-op\t"
		if b.cfg.patching {
			head += "mean / patching\tp99 / patching\t"
		}
		fmt.Fprintln(tw, head)
		for _, m := range b.cfg.modes() {
			s := summarise(w.lat[m])
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%.2f\t%.2f\t%.2f\t", m, s.n, ms(s.mean), ms(s.p50), ms(s.p99),
				float64(s.mean)/float64(none.mean), float64(s.mean)/float64(noop.mean), float64(s.p99)/float64(noop.p99))
			if b.cfg.patching {
				fmt.Fprintf(tw, "%.2f\t%.2f\t", float64(s.mean)/float64(patching.mean), float64(s.p99)/float64(patching.p99))
			}
			fmt.Fprintln(tw)
		}
		tw.Flush()
	}

	for i, title := range []string{"sequential", "concurrent"} {
		b.reportCalls(out, tw, title, b.calls[i])
		var own []string
		for _, hook := range []string{"mutate", "validate"} {
			if t := b.serveTime[i][hook]; t != nil && t[1] > 0 {
				own = append(own, fmt.Sprintf("%s %.3f ms (%.0f reviews)", hook, 1000*t[0]/t[1], t[1]))
			}
		}
		if len(own) > 0 {
			fmt.Fprintf(out, "serve's own time per review, from its arrival to its answer (its metric): %s\n", strings.Join(own, ", "))
		}
	}

	r := b.reapply
	fmt.Fprintf(out, "\nWebhook calls for updates of %d stored objects, created as in a sequential round (API server's count):\n", r.objects)
	fmt.Fprintf(out, "  the deployment controller's updates of %d Deployments: %.0f\n", r.deployments, r.controller)
	fmt.Fprintf(out, "  every object updated unchanged (a re-apply of what is stored): %.0f\n", r.unchanged)
	for k, v := range r.unchangedBy {
		if strings.HasSuffix(k.Name, ours) {
			fmt.Fprintf(out, "    %s %s: %.0f\n", k.Type, k.Name, v.Count)
		}
	}
	fmt.Fprintf(out, "  every manifest applied again as written: %.0f mutating, %.0f validating\n", r.asWrittenMutating, r.asWrittenValidate)
	b.reportCosts(out, tw)
}

// reportCalls prints the API server's account of the webhook calls during
// the creates of one workload: each webhook's calls and their mean time,
// for the no-op and for ours.
func (b *bench) reportCalls(out io.Writer, tw *tabwriter.Writer, workload string, calls map[mode]controlplane.WebhookStats) {
	fmt.Fprintf(out, "\nThe API server's webhook calls during the %s creates (apiserver_admission_webhook_admission_duration_seconds)\n", workload)
	head := "webhook\ttype\tcalls (no-op)\tms per call (no-op)\tcalls (ours)\tms per call (ours)\tratio\t"
	if b.cfg.patching {
		head += "ms per call (patching no-op)\tours / patching\t"
	}
	fmt.Fprintln(tw, head)
	keys := map[controlplane.WebhookCall]bool{}
	for _, m := range []mode{modeNoop, modeServe} {
		for k := range calls[m] {
			if strings.HasSuffix(k.Name, ours) {
				keys[controlplane.WebhookCall{Name: k.Name, Type: k.Type}] = true
			}
		}
	}
	row := func(name, typ string, k controlplane.WebhookCall) {
		n, o, p := calls[modeNoop].Sum(k), calls[modeServe].Sum(k), calls[modePatching].Sum(k)
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.3f\t%.0f\t%.3f\t%.2f\t", name, typ, n.Count, 1000*n.Seconds/n.Count, o.Count, 1000*o.Seconds/o.Count,
			(o.Seconds/o.Count)/(n.Seconds/n.Count))
		if b.cfg.patching {
			fmt.Fprintf(tw, "%.3f\t%.2f\t", 1000*p.Seconds/p.Count, (o.Seconds/o.Count)/(p.Seconds/p.Count))
		}
		fmt.Fprintln(tw)
	}
	for _, name := range []string{"ha-configmaps", "flink-config", "flink-workloads", "flinkdeployments"} {
		for _, typ := range []string{"admit", "validating"} {
			if k := (controlplane.WebhookCall{Name: name + ours, Type: typ}); keys[k] {
				row(name, typ, k)
			}
		}
	}
	row("all", "", controlplane.WebhookCall{Name: ours})
	tw.Flush()
}

// reportCosts prints the CPU and memory of the API server and the
// webhooks, and serve's requests to the API server.
func (b *bench) reportCosts(out io.Writer, tw *tabwriter.Writer) {
	fmt.Fprintln(out, "\nCPU during the creates, summed over the rounds (a share is CPU time over the rounds' time, of one core)")
	fmt.Fprintln(tw, "mode\tseconds\tAPI server CPU s\tshare\tms per object\twebhook CPU s\tshare\tms per object\t")
	for _, m := range b.cfg.modes() {
		u := b.cpu[m]
		if u.objects == 0 {
			continue
		}
		share := func(d time.Duration) float64 { return float64(d) / float64(u.wall) }
		perObject := func(d time.Duration) string { return ms(d / time.Duration(u.objects)) }
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.2f\t%s\t%.1f\t%.2f\t%s\t\n", m, u.wall.Seconds(),
			u.apiserver.Seconds(), share(u.apiserver), perObject(u.apiserver), u.webhook.Seconds(), share(u.webhook), perObject(u.webhook))
	}
	tw.Flush()

	var start, during float64
	var by []string
	for _, method := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		if c := b.serveRequests[method]; c != nil {
			start, during = start+c[0], during+c[1]
			by = append(by, fmt.Sprintf("%s %.0f+%.0f", method, c[0], c[1]))
		}
	}
	fmt.Fprintf(out, "\nserve's requests to the API server (client-go's count): %.0f from its start until its rounds, %.0f during them (%s)\n",
		start, during, strings.Join(by, ", "))

	fmt.Fprintln(out, "\nMemory of the webhook processes under this load (RSS sampled every 100 ms; anonymous and file-backed at the end of the last round)")
	fmt.Fprintln(tw, "webhook\tRSS at most\tkernel peak (VmHWM)\tRSS at the end\tanonymous\tfile\t")
	for _, m := range b.cfg.modes() {
		r := b.rss[m]
		if r == nil {
			continue // no webhook, no process
		}
		r.mu.Lock()
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", m, mib(r.maxRSS), mib(r.maxHWM), mib(r.last.rss), mib(r.last.anon), mib(r.last.file))
		r.mu.Unlock()
	}
	tw.Flush()
	var heaps []string
	for _, h := range b.serveHeap {
		heaps = append(heaps, fmt.Sprintf("%.1f MiB live, goal %.1f MiB", h.live/(1<<20), h.goal/(1<<20)))
	}
	fmt.Fprintf(out, "serve's Go heap at the end of each round: %s\n", strings.Join(heaps, "; "))
}

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/client-go/util/retry"

	"github.com/flink-ha-webhook/flink-ha-webhook/test/controlplane"
)

type config struct {
	rounds, perKind, concurrent, clients int
	profile                              profiler
}

type mode string

const (
	modeNone  mode = "no webhook"
	modeNoop  mode = "no-op webhook"
	modeServe mode = "flink-ha-webhook"
)

var modes = []mode{modeNone, modeNoop, modeServe}

// ours matches every webhook of flink-ha-webhook in WebhookStats.
const ours = ".webhook.flink-ha"

// policy is the policy serve runs with: a storageDir template, so that
// every Flink object is completed.
const policy = "storageDir: s3://flink-ha/{namespace}/{clusterId}\n"

type bench struct {
	cfg        config
	plane      *controlplane.Plane
	client     dynamic.Interface
	bin        string
	mutating   *admissionregistrationv1.MutatingWebhookConfiguration
	validating *admissionregistrationv1.ValidatingWebhookConfiguration
	serve      *controlplane.WebhookServer
	noop       *noop
	probeNS    string
	namespaces int

	rss rssSampler
	// results, by mode
	sequential, concurrent map[mode][]time.Duration
	calls                  map[mode]controlplane.WebhookStats
	reapply                reapplyCounts
}

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
	b := &bench{cfg: cfg, sequential: map[mode][]time.Duration{}, concurrent: map[mode][]time.Duration{}, calls: map[mode]controlplane.WebhookStats{}}
	fmt.Fprintln(os.Stderr, "bench: starting the control plane and building serve")
	if b.bin, err = controlplane.BuildWebhook(dir); err != nil {
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

func (b *bench) namespace(ctx context.Context, prefix string) (string, error) {
	b.namespaces++
	name := fmt.Sprintf("bench-%s-%d", prefix, b.namespaces)
	_, err := b.plane.Clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	return name, err
}

// round creates the sequential workload and then the concurrent one with
// mode m in place.
func (b *bench) round(ctx context.Context, m mode, seq, conc []manifest) error {
	if err := b.setMode(ctx, m); err != nil {
		return err
	}
	if m == modeServe {
		b.cfg.profile.startCPU(ctx)
	}
	for _, w := range []struct {
		objects []manifest
		clients int
		into    map[mode][]time.Duration
	}{{seq, 1, b.sequential}, {conc, b.cfg.clients, b.concurrent}} {
		ns, err := b.namespace(ctx, "load")
		if err != nil {
			return err
		}
		before, err := b.plane.WebhookStats(ctx)
		if err != nil {
			return err
		}
		lat, err := create(ctx, b.client, ns, w.objects, w.clients)
		if err != nil {
			return err
		}
		after, err := b.plane.WebhookStats(ctx)
		if err != nil {
			return err
		}
		w.into[m] = append(w.into[m], lat...)
		b.calls[m] = add(b.calls[m], after.Since(before))
	}
	if m == modeServe {
		b.rss.sample()
		return b.cfg.profile.finish(ctx)
	}
	return nil
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
			ignoreNotFound(adm.MutatingWebhookConfigurations().Delete(ctx, b.mutating.Name, metav1.DeleteOptions{})),
			ignoreNotFound(adm.ValidatingWebhookConfigurations().Delete(ctx, b.validating.Name, metav1.DeleteOptions{})))
	default:
		mw, vw := b.mutating.DeepCopy(), b.validating.DeepCopy()
		mw.ObjectMeta = metav1.ObjectMeta{Name: mw.Name, Annotations: mw.Annotations}
		vw.ObjectMeta = metav1.ObjectMeta{Name: vw.Name, Annotations: vw.Annotations}
		_, err1 := adm.MutatingWebhookConfigurations().Create(ctx, mw, metav1.CreateOptions{})
		_, err2 := adm.ValidatingWebhookConfigurations().Create(ctx, vw, metav1.CreateOptions{})
		err = errors.Join(ignoreExists(err1), ignoreExists(err2))
		if err == nil && m == modeNoop {
			b.noop, err = startNoop(b.plane.Webhook)
		}
		if err == nil && m == modeServe {
			var pprofAddr string
			if pprofAddr, err = b.cfg.profile.newAddr(); err != nil {
				return err
			}
			os.Setenv("GOMEMLIMIT", serveMemLimit)
			b.serve, err = b.plane.ServeWebhookOn(b.bin, policy, b.plane.Webhook.Port, serveArgs(pprofAddr)...)
			os.Unsetenv("GOMEMLIMIT")
			if err == nil {
				err = b.rss.attach(b.bin)
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
		b.serve = nil
		b.rss.detach()
	}
	if b.noop != nil {
		if err := b.noop.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "bench: stopping the no-op webhook:", err)
		}
		b.noop = nil
	}
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func ignoreExists(err error) error {
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// rssSampler follows serve's resident memory while it runs.
type rssSampler struct {
	mu       sync.Mutex
	pid      int
	stop     chan struct{}
	maxRSS   int64 // KiB, sampled every 100 ms
	maxHWM   int64 // KiB, the kernel's peak
	lastRSS  int64
	attached bool
}

// attach finds the serve process (the one running bin) and samples it.
func (s *rssSampler) attach(bin string) error {
	abs, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return err
	}
	pid := 0
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err == nil && exe == abs {
			pid = p
		}
	}
	if pid == 0 {
		return fmt.Errorf("no process runs %s", abs)
	}
	s.mu.Lock()
	s.pid, s.stop, s.attached = pid, make(chan struct{}), true
	stop := s.stop
	s.mu.Unlock()
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
	return nil
}

func (s *rssSampler) sample() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.attached {
		return
	}
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(s.pid), "status"))
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "VmRSS":
			s.lastRSS = kib
			s.maxRSS = max(s.maxRSS, kib)
		case "VmHWM":
			s.maxHWM = max(s.maxHWM, kib)
		}
	}
}

func (s *rssSampler) detach() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.attached {
		close(s.stop)
		s.attached = false
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
		none, noop := summarise(w.lat[modeNone]), summarise(w.lat[modeNoop])
		fmt.Fprintln(tw, "mode\tobjects\tmean\tp50\tp99\tmean / none\tmean / no-op\tp99 / no-op\t")
		for _, m := range modes {
			s := summarise(w.lat[m])
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%.2f\t%.2f\t%.2f\t\n", m, s.n, ms(s.mean), ms(s.p50), ms(s.p99),
				float64(s.mean)/float64(none.mean), float64(s.mean)/float64(noop.mean), float64(s.p99)/float64(noop.p99))
		}
		tw.Flush()
	}

	fmt.Fprintln(out, "\nThe API server's webhook calls during the creates (apiserver_admission_webhook_admission_duration_seconds)")
	fmt.Fprintln(tw, "webhook\ttype\tcalls (no-op)\tms per call (no-op)\tcalls (ours)\tms per call (ours)\tratio\t")
	keys := map[controlplane.WebhookCall]bool{}
	for _, m := range []mode{modeNoop, modeServe} {
		for k := range b.calls[m] {
			if strings.HasSuffix(k.Name, ours) {
				keys[controlplane.WebhookCall{Name: k.Name, Type: k.Type}] = true
			}
		}
	}
	var all [2]controlplane.WebhookTotals
	for _, name := range []string{"ha-configmaps", "flink-config", "flink-workloads", "flinkdeployments"} {
		for _, typ := range []string{"admit", "validating"} {
			k := controlplane.WebhookCall{Name: name + ours, Type: typ}
			if !keys[k] {
				continue
			}
			n, o := b.calls[modeNoop].Sum(k), b.calls[modeServe].Sum(k)
			fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.3f\t%.0f\t%.3f\t%.2f\t\n", name, typ, n.Count, 1000*n.Seconds/n.Count, o.Count, 1000*o.Seconds/o.Count,
				(o.Seconds/o.Count)/(n.Seconds/n.Count))
		}
	}
	all[0], all[1] = b.calls[modeNoop].Sum(controlplane.WebhookCall{Name: ours}), b.calls[modeServe].Sum(controlplane.WebhookCall{Name: ours})
	fmt.Fprintf(tw, "all\t\t%.0f\t%.3f\t%.0f\t%.3f\t%.2f\t\n", all[0].Count, 1000*all[0].Seconds/all[0].Count, all[1].Count, 1000*all[1].Seconds/all[1].Count,
		(all[1].Seconds/all[1].Count)/(all[0].Seconds/all[0].Count))
	tw.Flush()

	r := b.reapply
	fmt.Fprintf(out, "\nWebhook calls for updates of %d stored objects, created as in a sequential round (API server's count):\n", r.objects)
	fmt.Fprintf(out, "  the deployment controller's updates of %d Deployments: %.0f\n", r.deployments, r.controller)
	fmt.Fprintf(out, "  every object updated unchanged (a re-apply of what is stored): %.0f\n", r.unchanged)
	for k, v := range r.unchangedBy {
		if strings.HasSuffix(k.Name, ours) {
			fmt.Fprintf(out, "    %s %s: %.0f\n", k.Type, k.Name, v.Count)
		}
	}
	if r.unchanged > 0 {
		fmt.Fprintln(out, "    (a user's update of an object under an account of the user's choosing has the account checked again)")
	}
	fmt.Fprintf(out, "  every manifest applied again as written: %.0f mutating, %.0f validating\n", r.asWrittenMutating, r.asWrittenValidate)
	b.rss.mu.Lock()
	fmt.Fprintf(out, "\nserve's memory under this load: RSS at most %.1f MiB (sampled every 100 ms), kernel peak (VmHWM) %.1f MiB, after the last round %.1f MiB\n",
		float64(b.rss.maxRSS)/1024, float64(b.rss.maxHWM)/1024, float64(b.rss.lastRSS)/1024)
	b.rss.mu.Unlock()
}

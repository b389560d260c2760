package report

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	ctrl "sigs.k8s.io/controller-runtime"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/flink-ha-webhook/flink-ha-webhook/audit"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
)

// Runner runs the audit every Interval and publishes it.
type Runner struct {
	Clients audit.Clients
	Policy  *policy.Policy
	// PolicyFor, when set, gives each namespace its policy.
	PolicyFor func(ctx context.Context, namespace string) (*policy.Policy, error)
	Interval  time.Duration
	// Reports is the installed report resource; zero when none is.
	Reports schema.GroupVersionResource
}

// Setup adds a Runner to mgr, which runs it in the leader only. The report
// resource is looked up once: one installed later is used after a
// restart.
func Setup(mgr ctrl.Manager, p *policy.Policy, policyFor func(context.Context, string) (*policy.Policy, error), interval time.Duration) error {
	cfg := mgr.GetConfig()
	r := &Runner{Policy: p, PolicyFor: policyFor, Interval: interval}
	var err error
	if r.Clients.Kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}
	if r.Clients.Dynamic, err = dynamic.NewForConfig(cfg); err != nil {
		return err
	}
	if r.Clients.Metadata, err = metadata.NewForConfig(cfg); err != nil {
		return err
	}
	for _, gvr := range []schema.GroupVersionResource{OpenReports, WGPolicy} {
		if _, err := mgr.GetRESTMapper().KindFor(gvr); err == nil {
			r.Reports = gvr
			break
		}
	}
	return mgr.Add(r)
}

// NeedLeaderElection implements manager.LeaderElectionRunnable: one
// replica audits, the others serve.
func (r *Runner) NeedLeaderElection() bool { return true }

// FirstAuditAfter caps how long after Start the first audit waits (it
// waits Interval when that is shorter). An audit lists every workload and
// FlinkDeployment of the cluster: at once, it would compete with the
// informers' first lists and the webhook's first reviews, when a rollout
// starts a replica under load.
const FirstAuditAfter = time.Minute

// Start implements manager.Runnable: an audit after Interval or
// FirstAuditAfter, whichever is shorter, then every Interval, until ctx
// ends. A failed audit is logged and tried again.
func (r *Runner) Start(ctx context.Context) error {
	log := logf.FromContext(ctx).WithName("audit")
	select {
	case <-ctx.Done():
		return nil
	case <-time.After(min(r.Interval, FirstAuditAfter)):
	}
	t := time.NewTicker(r.Interval)
	defer t.Stop()
	for {
		if err := r.Once(ctx); err != nil && ctx.Err() == nil {
			log.Error(err, "background audit failed; trying again", "in", r.Interval.String())
		}
		// Of a tick and the end both ready, select may take the tick:
		// no audit starts once the context has ended.
		if ctx.Err() != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Once audits every namespace and publishes the gauges and reports.
func (r *Runner) Once(ctx context.Context) error {
	rep, err := audit.Run(ctx, r.Clients, audit.Options{Policy: r.Policy, PolicyFor: r.PolicyFor})
	if err != nil {
		return err
	}
	publish(rep)
	if r.Reports.Resource != "" {
		if err := r.write(ctx, rep); err != nil {
			return err
		}
	}
	lastSuccess.SetToCurrentTime()
	return nil
}

// write creates or updates the report of each namespace with clusters and
// deletes the webhook's reports where none are left.
func (r *Runner) write(ctx context.Context, rep *audit.Report) error {
	byNamespace := map[string][]audit.Cluster{}
	for _, c := range rep.Clusters {
		byNamespace[c.Namespace] = append(byNamespace[c.Namespace], c)
	}
	now := time.Now()
	var errs []error // one namespace's failure does not hold up the others' reports
	for ns, cls := range byNamespace {
		res := r.Clients.Dynamic.Resource(r.Reports).Namespace(ns)
		want := build(r.Reports, ns, cls, rep.Collisions, now)
		have, err := res.Get(ctx, Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			_, err = res.Create(ctx, want, metav1.CreateOptions{FieldManager: ManagedBy})
		case err == nil:
			want.SetResourceVersion(have.GetResourceVersion())
			_, err = res.Update(ctx, want, metav1.UpdateOptions{FieldManager: ManagedBy})
		}
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			errs = append(errs, fmt.Errorf("the report of namespace %s: %w", ns, err))
		}
	}
	old, err := r.Clients.Dynamic.Resource(r.Reports).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=" + ManagedBy})
	if err != nil {
		return err
	}
	for _, o := range old.Items {
		if _, ok := byNamespace[o.GetNamespace()]; !ok && o.GetName() == Name {
			err := r.Clients.Dynamic.Resource(r.Reports).Namespace(o.GetNamespace()).Delete(ctx, Name, metav1.DeleteOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

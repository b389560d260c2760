package audit

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"

	"github.com/flink-ha-webhook/flink-ha-webhook/fleet"
	"github.com/flink-ha-webhook/flink-ha-webhook/handler"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
	"github.com/flink-ha-webhook/flink-ha-webhook/recognise"
	"github.com/flink-ha-webhook/flink-ha-webhook/validate"
)

// Clients are the API clients the audit reads through.
type Clients struct {
	Kube     kubernetes.Interface
	Dynamic  dynamic.Interface
	Metadata metadata.Interface
}

// Options say what to audit and how.
type Options struct {
	// Namespace limits the audit to one namespace; empty is all.
	Namespace string
	Policy    *policy.Policy
	// PolicyFor, when set, gives each namespace its policy (FlinkHAPolicies
	// over the policy file) in place of Policy.
	PolicyFor func(ctx context.Context, namespace string) (*policy.Policy, error)
	// ChunkSize is how many objects one list request returns (the API
	// server pages larger lists); 0 means 500, as kubectl. The audit holds
	// one page of objects at a time.
	ChunkSize int64
	// Progress receives a line per page while a list takes more than one;
	// nil says nothing.
	Progress io.Writer
}

// FlinkDeployments is the resource of the Flink Kubernetes Operator's
// clusters.
var FlinkDeployments = schema.GroupVersionResource{Group: "flink.apache.org", Version: "v1beta1", Resource: "flinkdeployments"}

var configMaps = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

// Report is the audit of every Flink cluster found.
type Report struct {
	Clusters   []Cluster         `json:"clusters"`
	Collisions []fleet.Collision `json:"collisions"`
	// AtRisk is true when any cluster is.
	AtRisk bool `json:"atRisk"`
}

// Cluster is one Flink cluster as the audit found it.
type Cluster struct {
	Namespace string `json:"namespace"`
	// ClusterID is empty for a standalone cluster that sets none.
	ClusterID string `json:"clusterId"`
	// Mode is empty for HA ConfigMaps whose cluster the audit did not find.
	Mode fleet.Mode `json:"mode,omitempty"`
	// FlinkVersion is a release line, or the range of those it may be.
	FlinkVersion string        `json:"flinkVersion,omitempty"`
	HA           fleet.HAState `json:"ha,omitempty"`
	StorageDir   string        `json:"storageDir,omitempty"`
	StoragePath  string        `json:"storagePath,omitempty"`
	Account      string        `json:"account,omitempty"`
	// Rights says whether the account may do what Kubernetes HA needs:
	// "yes", "no: <what it lacks>", "unknown: <why>", or empty when HA is
	// not Kubernetes HA.
	Rights string `json:"rights,omitempty"`
	// Objects are the objects that make up the cluster, as Kind/name.
	Objects      []string      `json:"objects,omitempty"`
	HAConfigMaps []HAConfigMap `json:"haConfigMaps,omitempty"`
	Policy       Verdict       `json:"policy"`
	// AtRisk lists why the cluster may lose its jobs' recovery data or
	// fail over badly; empty when it is safe.
	AtRisk []string `json:"atRisk,omitempty"`

	key string
}

// HAConfigMap is one HA ConfigMap and the owners that would take it with
// them when deleted.
type HAConfigMap struct {
	Name   string   `json:"name"`
	Owners []string `json:"owners,omitempty"`
}

// Verdict is what the webhook's rules, run as inject runs them, make of
// the cluster's objects.
type Verdict struct {
	// Result is "ok", "change", "deny", "warn" (a warn-only policy's
	// violations), "exempt", or "none" for HA ConfigMaps whose cluster
	// was not found.
	Result     string   `json:"result"`
	Changes    []string `json:"changes,omitempty"`
	Violations []string `json:"violations,omitempty"`
	Warnings   []string `json:"warnings,omitempty"`
}

// Reasons a cluster is at risk.
const (
	RiskOwnedHAConfigMaps = "owned-ha-configmaps"
	RiskCollision         = "collision"
	RiskDenied            = "denied-by-policy"
	RiskRights            = "account-lacks-rights"
	RiskConflicting       = "ha-conflicting"
)

// Run audits the cluster the clients talk to.
func Run(ctx context.Context, c Clients, opts Options) (*Report, error) {
	if opts.ChunkSize <= 0 {
		opts.ChunkSize = 500
	}
	a := &auditor{c: c, opts: opts, configMaps: map[string]*corev1.ConfigMap{}, policies: map[string]*policy.Policy{}, answers: map[string]string{}}
	return a.run(ctx)
}

type auditor struct {
	c    Clients
	opts Options
	// configMaps are the configuration ConfigMaps fetched for JobManagers
	// that mount them, by namespace/name (nil: not found), without what
	// nothing reads (see slim).
	configMaps map[string]*corev1.ConfigMap
	getErr     error
	// policies are the namespaces' policies, when Options.PolicyFor is set.
	policies map[string]*policy.Policy
	// answers are the rights of the accounts asked about, by account.
	answers map[string]string
}

// object is a Flink object found, with the kind handler.Run needs.
type object struct {
	kind schema.GroupKind
	obj  metav1.Object
}

func (a *auditor) run(ctx context.Context) (*Report, error) {
	ha, err := a.haConfigMaps(ctx)
	if err != nil {
		return nil, err
	}
	// Each object is identified and judged while its page is in hand, and
	// only what the report prints is kept: the audit holds one page and
	// its Flink clusters, not every workload of the cluster.
	clusters := map[string]*Cluster{}
	var ids []fleet.Identity
	err = a.flinkObjects(ctx, func(o object) error {
		id, ok := fleet.Identify(o.obj, a.lookup(ctx, o.obj.GetNamespace()))
		if a.getErr != nil {
			return a.getErr
		}
		if !ok {
			return nil
		}
		id = detached(id)
		ids = append(ids, id)
		cl := clusters[id.Key]
		if cl == nil {
			cl = &Cluster{key: id.Key}
			clusters[id.Key] = cl
		}
		cl.Objects = append(cl.Objects, id.Object)
		p, err := a.policy(ctx, id.Namespace)
		if err != nil {
			return err
		}
		a.judge(cl, o, p)
		if mounted := a.mountedConfigMap(o.obj); mounted != nil && !slices.Contains(cl.Objects, "ConfigMap/"+mounted.Name) {
			cl.Objects = append(cl.Objects, "ConfigMap/"+mounted.Name)
			a.judge(cl, object{kind: schema.GroupKind{Kind: "ConfigMap"}, obj: mounted}, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	merged := fleet.Clusters(ids)
	// Empty lists print as [], as kubectl prints an empty list's items.
	report := &Report{Clusters: []Cluster{}, Collisions: append([]fleet.Collision{}, fleet.Collisions(merged)...)}
	for _, id := range merged {
		cl := clusters[id.Key]
		cl.Namespace, cl.ClusterID, cl.Mode, cl.HA = id.Namespace, id.ClusterID, id.Mode, id.HA
		cl.FlinkVersion, cl.StorageDir, cl.StoragePath, cl.Account = id.Versions.String(), id.StorageDir, id.StoragePath, id.Account
		if id.HA == fleet.HAOn && id.Account != "" {
			cl.Rights = a.rights(ctx, validate.Account{Namespace: id.Namespace, Name: id.Account, Native: id.Native, HostNetwork: id.HostNetwork, Flink: id.Versions})
		}
		if id.ClusterID != "" {
			cl.HAConfigMaps = ha[id.Namespace+"/"+id.ClusterID]
			delete(ha, id.Namespace+"/"+id.ClusterID)
		}
		report.Clusters = append(report.Clusters, *cl)
	}
	// HA data whose cluster is gone, or not found, is still data to lose.
	for k, cms := range ha {
		ns, cid, _ := strings.Cut(k, "/")
		report.Clusters = append(report.Clusters, Cluster{Namespace: ns, ClusterID: cid, HAConfigMaps: cms, Policy: Verdict{Result: "none"}})
	}
	slices.SortStableFunc(report.Clusters, func(x, y Cluster) int {
		return cmp.Or(cmp.Compare(x.Namespace, y.Namespace), cmp.Compare(x.ClusterID, y.ClusterID), cmp.Compare(strings.Join(x.Objects, ","), strings.Join(y.Objects, ",")))
	})
	for i := range report.Clusters {
		cl := &report.Clusters[i]
		if cl.Policy.Result == "" {
			cl.Policy.Result = "ok"
		}
		risk(cl, report.Collisions)
		report.AtRisk = report.AtRisk || len(cl.AtRisk) > 0
	}
	return report, nil
}

// lookup fetches the configuration ConfigMaps JobManagers mount, once each.
func (a *auditor) lookup(ctx context.Context, namespace string) fleet.ConfigMaps {
	return func(name string) *corev1.ConfigMap {
		key := namespace + "/" + name
		if cm, ok := a.configMaps[key]; ok {
			return cm
		}
		cm, err := a.c.Kube.CoreV1().ConfigMaps(namespace).Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			cm = nil
		case err != nil:
			a.getErr = fmt.Errorf("reading ConfigMap %s in namespace %s: %w", name, namespace, err)
			cm = nil
		default:
			slim(cm)
		}
		a.configMaps[key] = cm
		return cm
	}
}

// slim drops from a fetched configuration ConfigMap, kept until the audit
// ends, what none of its readers read (fleet.Identify, and the rules judge
// runs, which read its name, labels, owner references, the webhook's own
// annotation and its data): its managed fields, and kubectl's
// last-applied-configuration annotation, a second copy of all its data.
func slim(cm *corev1.ConfigMap) {
	cm.ManagedFields = nil
	delete(cm.Annotations, corev1.LastAppliedConfigAnnotation)
	if len(cm.Annotations) == 0 {
		cm.Annotations = nil
	}
}

// detached is id holding no memory of the object it was read from: a
// cluster-id or storageDir read from a configuration is a piece of the
// file's or FLINK_PROPERTIES' whole text, which it would keep alive until
// the audit ends. The other strings are the object's own fields or built
// anew.
func detached(id fleet.Identity) fleet.Identity {
	id.ClusterID, id.StorageDir = strings.Clone(id.ClusterID), strings.Clone(id.StorageDir)
	return id
}

func (a *auditor) mountedConfigMap(obj metav1.Object) *corev1.ConfigMap {
	var tpl *corev1.PodTemplateSpec
	switch o := obj.(type) {
	case *appsv1.Deployment:
		tpl = &o.Spec.Template
	case *appsv1.StatefulSet:
		tpl = &o.Spec.Template
	case *batchv1.Job:
		tpl = &o.Spec.Template
	default:
		return nil
	}
	fp, ok := recognise.PodTemplate(obj.GetLabels(), tpl)
	if !ok {
		return nil
	}
	name := recognise.MountedConfigMap(tpl, &tpl.Spec.Containers[fp.Container])
	if name == "" {
		return nil
	}
	return a.configMaps[obj.GetNamespace()+"/"+name]
}

// policy is the policy of namespace.
func (a *auditor) policy(ctx context.Context, namespace string) (*policy.Policy, error) {
	if a.opts.PolicyFor == nil {
		return a.opts.Policy, nil
	}
	if p, ok := a.policies[namespace]; ok {
		return p, nil
	}
	p, err := a.opts.PolicyFor(ctx, namespace)
	if err != nil {
		return nil, fmt.Errorf("the policy of namespace %s: %w", namespace, err)
	}
	a.policies[namespace] = p
	return p, nil
}

// judge runs the webhook's rules on one object of the cluster, as inject
// does, and adds their verdict.
func (a *auditor) judge(cl *Cluster, o object, p *policy.Policy) {
	if p.Exempt(o.obj.GetNamespace()) {
		cl.Policy.Result = "exempt"
		return
	}
	raw, err := json.Marshal(o.obj)
	if err != nil {
		cl.Policy.Violations = append(cl.Policy.Violations, err.Error())
		return
	}
	r, err := handler.Run(o.kind, raw, o.obj.GetNamespace(), p, handler.Phases{Mutate: true, Validate: true})
	if err != nil || r == nil {
		if err != nil {
			cl.Policy.Violations = append(cl.Policy.Violations, err.Error())
		}
		return
	}
	where := o.kind.Kind + "/" + o.obj.GetName() + " "
	for _, c := range r.Mutation.Warnings() {
		cl.Policy.Changes = append(cl.Policy.Changes, where+c)
	}
	for _, e := range r.Errors {
		cl.Policy.Violations = append(cl.Policy.Violations, where+e.Error())
	}
	for _, w := range r.Warnings {
		cl.Policy.Warnings = append(cl.Policy.Warnings, where+w)
	}
	switch {
	case len(cl.Policy.Violations) > 0 && p.Enforcement == policy.Enforce:
		cl.Policy.Result = "deny"
	case len(cl.Policy.Violations) > 0:
		cl.Policy.Result = "warn"
	case len(cl.Policy.Changes) > 0:
		cl.Policy.Result = "change"
	}
}

func risk(cl *Cluster, collisions []fleet.Collision) {
	if slices.ContainsFunc(cl.HAConfigMaps, func(h HAConfigMap) bool { return len(h.Owners) > 0 }) {
		cl.AtRisk = append(cl.AtRisk, RiskOwnedHAConfigMaps)
	}
	if slices.ContainsFunc(collisions, func(c fleet.Collision) bool {
		return slices.ContainsFunc([]fleet.Ref{c.First, c.Second}, func(r fleet.Ref) bool {
			return r.Namespace == cl.Namespace && slices.Contains(cl.Objects, r.Object)
		})
	}) {
		cl.AtRisk = append(cl.AtRisk, RiskCollision)
	}
	if cl.Policy.Result == "deny" {
		cl.AtRisk = append(cl.AtRisk, RiskDenied)
	}
	if strings.HasPrefix(cl.Rights, "no") {
		cl.AtRisk = append(cl.AtRisk, RiskRights)
	}
	if cl.HA == fleet.HAConflicting {
		cl.AtRisk = append(cl.AtRisk, RiskConflicting)
	}
}

// haConfigMaps lists every ConfigMap's metadata (never its data: HA
// ConfigMaps are recognised by name and labels, and ConfigMaps can be
// large) and returns the HA ones by namespace/cluster-id.
func (a *auditor) haConfigMaps(ctx context.Context) (map[string][]HAConfigMap, error) {
	out := map[string][]HAConfigMap{}
	res := a.c.Metadata.Resource(configMaps).Namespace(a.opts.Namespace)
	err := a.pages(ctx, "ConfigMaps", func(opts metav1.ListOptions) (string, int, error) {
		list, err := res.List(ctx, opts)
		if err != nil {
			return "", 0, err
		}
		for _, m := range list.Items {
			cid, ok := recognise.HAConfigMap(m.Name, m.Labels)
			if !ok {
				continue
			}
			h := HAConfigMap{Name: m.Name}
			for _, o := range m.OwnerReferences {
				h.Owners = append(h.Owners, o.Kind+"/"+o.Name)
			}
			out[m.Namespace+"/"+cid] = append(out[m.Namespace+"/"+cid], h)
		}
		return list.Continue, len(list.Items), nil
	})
	return out, err
}

// flinkObjects lists the workloads and FlinkDeployments that may define
// Flink clusters, and hands each to each while its page is in hand, in the
// order they are listed: Deployments, StatefulSets, Jobs, FlinkDeployments.
// Nothing of a page is kept after it: what each keeps is each's.
func (a *auditor) flinkObjects(ctx context.Context, each func(object) error) error {
	ns := a.opts.Namespace
	apps, batch := a.c.Kube.AppsV1(), a.c.Kube.BatchV1()
	err := eachListed(ctx, a, "Deployments", schema.GroupKind{Group: "apps", Kind: "Deployment"}, each,
		func(opts metav1.ListOptions) ([]appsv1.Deployment, string, error) {
			list, err := apps.Deployments(ns).List(ctx, opts)
			if err != nil {
				return nil, "", err
			}
			return list.Items, list.Continue, nil
		})
	if err != nil {
		return err
	}
	err = eachListed(ctx, a, "StatefulSets", schema.GroupKind{Group: "apps", Kind: "StatefulSet"}, each,
		func(opts metav1.ListOptions) ([]appsv1.StatefulSet, string, error) {
			list, err := apps.StatefulSets(ns).List(ctx, opts)
			if err != nil {
				return nil, "", err
			}
			return list.Items, list.Continue, nil
		})
	if err != nil {
		return err
	}
	err = eachListed(ctx, a, "Jobs", schema.GroupKind{Group: "batch", Kind: "Job"}, each,
		func(opts metav1.ListOptions) ([]batchv1.Job, string, error) {
			list, err := batch.Jobs(ns).List(ctx, opts)
			if err != nil {
				return nil, "", err
			}
			return list.Items, list.Continue, nil
		})
	if err != nil {
		return err
	}
	return eachListed(ctx, a, "FlinkDeployments", handler.FlinkDeploymentKind, each,
		func(opts metav1.ListOptions) ([]unstructured.Unstructured, string, error) {
			list, err := a.c.Dynamic.Resource(FlinkDeployments).Namespace(ns).List(ctx, opts)
			if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
				return nil, "", nil // the operator is not installed: there are none
			}
			if err != nil {
				return nil, "", err
			}
			return list.Items, list.GetContinue(), nil
		})
}

// eachListed runs a paginated list of what (list returns a page's items
// and its continue token) and hands each item, as an object of kind, to
// each before the next page is read. An error of each ends the list and
// is returned as it is: it is no error of listing.
func eachListed[T any, P interface {
	*T
	metav1.Object
}](ctx context.Context, a *auditor, what string, kind schema.GroupKind, each func(object) error, list func(metav1.ListOptions) ([]T, string, error)) error {
	var failed error
	err := a.pages(ctx, what, func(opts metav1.ListOptions) (string, int, error) {
		items, cont, err := list(opts)
		if err != nil {
			return "", 0, err
		}
		for i := range items {
			if failed = each(object{kind: kind, obj: P(&items[i])}); failed != nil {
				return "", 0, errStop
			}
		}
		return cont, len(items), nil
	})
	if failed != nil {
		return failed
	}
	return err
}

// errStop ends a list whose items could not be judged: eachListed
// returns why.
var errStop = errors.New("stopped")

// pages runs a paginated list to its end, with a progress line per page
// once a list takes more than one.
func (a *auditor) pages(ctx context.Context, what string, list func(metav1.ListOptions) (cont string, n int, err error)) error {
	opts := metav1.ListOptions{Limit: a.opts.ChunkSize}
	total := 0
	for page := 1; ; page++ {
		cont, n, err := list(opts)
		if err != nil {
			return fmt.Errorf("listing %s: %w", what, err)
		}
		total += n
		if a.opts.Progress != nil && (cont != "" || page > 1) {
			fmt.Fprintf(a.opts.Progress, "listing %s: %d so far\n", what, total)
		}
		if cont == "" {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return errors.Join(fmt.Errorf("listing %s", what), err)
		}
		opts.Continue = cont
	}
}

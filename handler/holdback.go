package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/flink-ha-webhook/flink-ha-webhook/cluster"
	"github.com/flink-ha-webhook/flink-ha-webhook/mutate"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
	"github.com/flink-ha-webhook/flink-ha-webhook/rights"
	"github.com/flink-ha-webhook/flink-ha-webhook/validate"
)

// holding is what holding HA back needs: the policy that holds it back
// (policy.HoldingBack; nil holds nothing back), the authorizer's answers,
// the workloads that mount each ConfigMap (nil: a ConfigMap's cluster is
// not known, and a workload's is itself), and which namespaces' default
// accounts carry a cloud workload identity (nil: none is kept).
//
// HA is held back for a cluster, not an object: a FlinkDeployment is its
// cluster; a standalone cluster is a ConfigMap of Flink's configuration
// and the workloads that mount it, admitted one by one, so each of them
// asks about the accounts all of them run under, and all of them are held
// back alike. A workload that carries its own configuration is its own
// cluster as far as the webhook can tell.
type holding struct {
	policy   *policy.Policy
	checker  AccessChecker
	mounts   *Mounts
	defaults DefaultIdentities
}

// keepingDefault returns the policy p becomes in namespace, and the
// holding under it, where namespace's default account carries a cloud
// workload identity (policy.KeepingDefault); ok is false elsewhere.
func (h holding) keepingDefault(p *policy.Policy, namespace string) (kept *policy.Policy, under holding, ok bool) {
	if h.defaults == nil {
		return nil, holding{}, false
	}
	key := h.defaults.Identity(namespace)
	if key == "" {
		return nil, holding{}, false
	}
	kept = p.KeepingDefault(key)
	under = holdingFor(kept, h.checker)
	under.mounts = h.mounts
	return kept, under, true
}

// clusterAccount is an account of the user's choosing that a cluster runs
// a role under: of the object under review, or of another workload of
// its cluster (object, "Deployment/flink-taskmanager").
type clusterAccount struct {
	validate.Account
	object string
}

// lack is a clusterAccount denied something Kubernetes HA needs to run.
type lack struct {
	clusterAccount
	denied []validate.Access
}

// members are the accounts of the cluster of the object under review:
// its own (r.Accounts), and where it is a ConfigMap or a workload that
// mounts one, those of the workloads that mount that ConfigMap. p is the
// policy the accounts are judged by.
func (h *holding) members(r *Review, namespace string, p *policy.Policy) []clusterAccount {
	out := make([]clusterAccount, 0, len(r.Accounts))
	for _, a := range r.Accounts {
		out = append(out, clusterAccount{Account: a})
	}
	configMap := mountedBy(r.Object)
	if configMap == "" || h.mounts == nil {
		return out
	}
	for _, w := range h.mounts.Mounting(namespace, configMap) {
		if w.Kind == r.Kind.Kind && w.Meta.Name == r.Name {
			continue // the object itself, as it was
		}
		if a, ok := validate.WorkloadAccount(w.Meta, w.Template, p); ok {
			out = append(out, clusterAccount{Account: a, object: w.Kind + "/" + w.Meta.Name})
		}
	}
	return out
}

// mountedBy names the ConfigMap whose workloads are the cluster of obj: a
// ConfigMap itself, or the one a standalone Flink workload mounts.
func mountedBy(obj any) string {
	if cm, ok := obj.(*corev1.ConfigMap); ok {
		return cm.Name
	}
	if kind, meta, tpl := workloadParts(obj); kind != "" {
		return mountedConfigMap(meta, tpl)
	}
	return ""
}

// answers asks checker about members, one after the other within one
// bound; answers[i] is members[i]'s.
func answers(ctx context.Context, checker AccessChecker, members []clusterAccount) []accountAnswer {
	ctx, cancel := context.WithTimeout(ctx, accessTimeout)
	defer cancel()
	out := make([]accountAnswer, len(members))
	for i, m := range members {
		out[i].denied, out[i].err = checker.Denied(ctx, m.Account)
	}
	return out
}

// accountAnswer is what the authorizer said of one account.
type accountAnswer struct {
	denied []validate.Access
	err    error
}

// lacking is the members whose answers deny something Kubernetes HA needs
// to run (rights.RunsHA), with what. An account the authorizer could not
// be asked about is not among them.
func lacking(members []clusterAccount, answers []accountAnswer) []lack {
	var out []lack
	for i, m := range members {
		if ha := runningHA(answers[i].denied); answers[i].err == nil && len(ha) > 0 {
			out = append(out, lack{m, ha})
		}
	}
	return out
}

// runningHA is what of denied Kubernetes HA needs to run.
func runningHA(denied []validate.Access) []validate.Access {
	var ha []validate.Access
	for _, d := range denied {
		if rights.RunsHA(d) {
			ha = append(ha, d)
		}
	}
	return ha
}

// runsHA reports whether the cluster of the object under review runs
// with HA already, which holding back must never turn off (its jobs would
// restart without the state they recover from): the object an update
// replaces runs with HA by itself (its decision under the policy that
// holds HA back is not Skip), or a workload mounts a ConfigMap last
// admitted with HA.
func (h *holding) runsHA(req admission.Request, r *Review) bool {
	if kind, meta, tpl := workloadParts(r.Object); kind != "" {
		if cm := mountedConfigMap(meta, tpl); cm != "" && h.mounts.RecordedHA(req.Namespace, cm) {
			return true
		}
	}
	if req.Operation != admissionv1.Update || len(req.OldObject.Raw) == 0 {
		return false
	}
	k, ok := kinds[r.Kind]
	if !ok {
		return false
	}
	old := k.newObject()
	if err := json.Unmarshal(req.OldObject.Raw, old); err != nil {
		return false // an old object that does not decode is taken for one without HA
	}
	if o := old.(metav1.Object); o.GetNamespace() == "" {
		o.SetNamespace(req.Namespace)
	}
	return decision(old, h.policy) != policy.Skip
}

// decision is the policy's decision for obj as a whole.
func decision(obj runtime.Object, p *policy.Policy) policy.Decision {
	switch o := obj.(type) {
	case *unstructured.Unstructured:
		return cluster.FlinkDeployment(o, p).Decision
	case *corev1.ConfigMap:
		return cluster.ConfigMap(o, p).Decision
	}
	if kind, meta, tpl := workloadParts(obj); kind != "" {
		if w, ok := cluster.Workload(meta, tpl, p); ok {
			return w.Decision
		}
	}
	return policy.Skip
}

// holdBack returns the review of the object under the policy that holds
// HA back where the rules turned HA on for it and its cluster runs a role
// under an account denied what HA needs to run, with a warning for each
// such account; otherwise it returns r.
func (m *mutator) holdBack(ctx context.Context, req admission.Request, r *Review) (*Review, []string, error) {
	h := &m.hold
	if h.policy == nil || len(r.Mutation.Changes) == 0 {
		return r, nil, nil
	}
	members := h.members(r, req.Namespace, m.policy)
	if len(members) == 0 {
		return r, nil, nil
	}
	lacks := lacking(members, answers(ctx, h.checker, members))
	if len(lacks) == 0 || h.runsHA(req, r) {
		return r, nil, nil
	}
	// The first run changed the decoded object: the rules read it afresh.
	held, err := run(r.Kind, req.Object.Raw, nil, req.Namespace, h.policy, Phases{Mutate: true}, onChange)
	if err != nil || held == nil {
		return r, nil, err
	}
	if len(held.Mutation.Changes) == len(r.Mutation.Changes) && bytes.Equal(held.After, r.After) {
		return r, nil, nil // HA was on already: nothing to hold back
	}
	heldBackTotal.WithLabelValues(r.Kind.Kind).Inc()
	warnings := make([]string, len(lacks))
	for i, l := range lacks {
		if l.object == "" {
			warnings[i] = mutate.Warning("%s: HA not turned on: account %s lacks what HA needs on configmaps", l.Path, l.Name)
		} else {
			warnings[i] = mutate.Warning("HA not turned on: account %s of %s lacks what HA needs on configmaps", l.Name, l.object)
		}
	}
	return held, warnings, nil
}

// checkAccounts adds what the API server says each account of the
// object's own lacks, as an error or a warning per policy, on the field
// that names it. The accounts are asked one after the other within one
// bound: a review waits for at most one at a time. An authorizer that
// cannot be asked never denies anything. An object whose cluster's HA is
// held back (the mutating webhook did not turn it on) is judged by the
// policy that holds it back, which does not require HA, and the warnings
// of the accounts that hold it back, its cluster's other workloads'
// included, say that HA waits for the fix.
func (v *validator) checkAccounts(ctx context.Context, req admission.Request, r *Review) {
	all := make([]clusterAccount, 0, len(r.Accounts))
	for _, a := range r.Accounts {
		all = append(all, clusterAccount{Account: a})
	}
	if v.hold.policy != nil {
		all = v.hold.members(r, req.Namespace, v.policy)
	}
	if len(all) == 0 {
		return
	}
	ans := answers(ctx, v.hold.checker, all)
	heldBack := false
	if lacks := lacking(all, ans); len(lacks) > 0 && v.hold.policy != nil {
		heldBack = v.heldBack(req, r)
	}
	for i, m := range all {
		denied, err := ans[i].denied, ans[i].err
		if m.object != "" && !(heldBack && len(runningHA(denied)) > 0) {
			continue // checked when that workload is admitted
		}
		if err != nil {
			r.Warnings = append(r.Warnings, fmt.Sprintf("%s: could not check the rights of account %s: %v", m.Path, m.Name, err))
			continue
		}
		if len(denied) == 0 {
			continue
		}
		var lacks []string
		for _, d := range denied {
			lacks = append(lacks, d.Verb+" "+d.Resource)
		}
		if heldBack && len(runningHA(denied)) > 0 {
			w := field.Invalid(m.Path, m.Name, fmt.Sprintf(
				"may not %s in %s, which %s need%s with Flink's HA, so HA is not turned on: %s; the next change of this %s turns it on",
				strings.Join(lacks, ", "), m.Namespace, m.Role(), verbEnding(m.Account), m.Fix(v.policy.ServiceAccount), r.Kind.Kind)).Error()
			if m.object != "" {
				w = m.object + " " + w
			}
			r.Warnings = append(r.Warnings, w)
			continue
		}
		e := field.Invalid(m.Path, m.Name, fmt.Sprintf("may not %s in %s, which %s need%s with Flink's HA: %s",
			strings.Join(lacks, ", "), m.Namespace, m.Role(), verbEnding(m.Account), m.Fix(v.policy.ServiceAccount)))
		if v.policy.CheckAccounts == policy.Enforce {
			r.Errors = append(r.Errors, e)
		} else {
			r.Warnings = append(r.Warnings, e.Error())
		}
	}
}

// heldBack reports whether the object's HA is held back, as the mutating
// webhook holds it back for accounts denied what HA needs: its cluster
// does not run with HA already, and the object does not turn HA on
// itself or ask for it (its decision under the policy that holds HA back
// is Skip). If so, r's verdict becomes that policy's.
func (v *validator) heldBack(req admission.Request, r *Review) bool {
	held := v.hold.policy
	if decision(r.Object.(runtime.Object), held) != policy.Skip || v.hold.runsHA(req, r) {
		return false
	}
	h, err := run(r.Kind, req.Object.Raw, nil, req.Namespace, held, Phases{Validate: true}, onChange)
	if err != nil || h == nil {
		return false
	}
	r.Errors, r.Warnings = h.Errors, h.Warnings
	return true
}

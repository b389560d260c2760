package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	gomodulesjsonpatch "gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/flink-ha-webhook/flink-ha-webhook/cluster"
	"github.com/flink-ha-webhook/flink-ha-webhook/mutate"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
	"github.com/flink-ha-webhook/flink-ha-webhook/rights"
	"github.com/flink-ha-webhook/flink-ha-webhook/validate"
)

// Paths the webhooks are served at; manifests/ points the API server there.
const (
	MutatePath   = "/mutate"
	ValidatePath = "/validate"
)

// MaxRequestBytes caps an admission request: the API server refuses bodies
// over 3 MiB, so a larger review is not one it sent.
const MaxRequestBytes = 3 << 20

// Mutating returns the mutating webhook's handler.
func Mutating(p *policy.Policy) admission.Handler { return &mutator{policy: p} }

// MutatingHoldingBack is Mutating that, where the policy holds HA back
// (policy.HoldingBack), does not turn HA on for a FlinkDeployment one of
// whose accounts of the user's choosing checker says may not do what HA
// needs: HA would stop its JobManager at its next start. It says so in a
// warning; the validating webhook's says how to fix it.
func MutatingHoldingBack(p *policy.Policy, checker AccessChecker) admission.Handler {
	m := &mutator{policy: p}
	if held := p.HoldingBack(); held != nil && checker != nil {
		m.checker, m.held = checker, held
	}
	return m
}

// Validating returns the validating webhook's handler. With a checker, it
// also asks whether accounts users chose for Flink may do what HA needs
// (policy checkAccounts); without one (offline) it does not.
func Validating(p *policy.Policy, checker AccessChecker) admission.Handler {
	return &validator{policy: p, checker: checker}
}

type mutator struct {
	policy *policy.Policy
	// record adds the recorded annotations (Recording) to the patch.
	record bool
	// checker and held are set where HA is held back for accounts that
	// may not do what it needs (MutatingHoldingBack): held is the policy
	// that holds it back.
	checker AccessChecker
	held    *policy.Policy
}

type validator struct {
	policy     *policy.Policy
	checker    AccessChecker
	collisions *Collisions // nil: not checked (offline)
}

// accessTimeout bounds the authorizer's answer; the webhook's own timeout
// is a few seconds.
const accessTimeout = 2 * time.Second

// Capped wraps a webhook so that larger requests than MaxRequestBytes get a
// 413 without being read.
func Capped(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > MaxRequestBytes {
			http.Error(w, fmt.Sprintf("admission request of %d bytes is over the %d-byte limit", r.ContentLength, MaxRequestBytes), http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxRequestBytes)
		h.ServeHTTP(w, r)
	})
}

func acted(req admission.Request) bool {
	return req.Operation == admissionv1.Create || req.Operation == admissionv1.Update
}

// gone answers a review whose API server stopped waiting: no work starts
// for an answer nobody reads.
func gone(ctx context.Context) (admission.Response, bool) {
	if err := ctx.Err(); err != nil {
		return admission.Errored(http.StatusServiceUnavailable, fmt.Errorf("the API server stopped waiting for this review: %w", err)), true
	}
	return admission.Response{}, false
}

// review runs the rules of phases on the request's object. done says that
// resp is the answer already: an operation the rules do not act on, a
// review the API server no longer waits for, an object that does not
// decode, or one of a kind the rules do not handle.
func review(ctx context.Context, req admission.Request, p *policy.Policy, phases Phases) (r *Review, resp admission.Response, done bool) {
	if !acted(req) {
		return nil, admission.Allowed(""), true
	}
	if resp, ok := gone(ctx); ok {
		return nil, resp, true
	}
	gk := schema.GroupKind{Group: req.Kind.Group, Kind: req.Kind.Kind}
	r, err := run(gk, req.Object.Raw, req.Object.Object, req.Namespace, p, phases, onChange)
	if err != nil {
		return nil, admission.Errored(http.StatusBadRequest, err), true
	}
	if r == nil {
		return nil, admission.Allowed(""), true
	}
	return r, admission.Response{}, false
}

// Handle implements admission.Handler.
func (m *mutator) Handle(ctx context.Context, req admission.Request) admission.Response {
	// Only a FlinkDeployment's HA is held back (holdBack): only its
	// accounts are named here.
	flinkDeployment := req.Kind.Group == FlinkDeploymentKind.Group && req.Kind.Kind == FlinkDeploymentKind.Kind
	r, resp, done := review(ctx, req, m.policy, Phases{Mutate: true, Accounts: m.held != nil && flinkDeployment})
	if done {
		return resp
	}
	gk := r.Kind
	r, heldBack, err := m.holdBack(ctx, req, r)
	if err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	for rule, n := range r.Mutation.Counts() {
		changesTotal.WithLabelValues(gk.Kind, rule).Add(float64(n))
	}
	var patches []gomodulesjsonpatch.JsonPatchOperation
	warnings := r.Mutation.Notes
	if len(r.Mutation.Changes) > 0 {
		if resp, ok := gone(ctx); ok {
			return resp
		}
		// The patch is the difference between the decoded object before
		// and after the rules: only what a rule changed, so fields this
		// webhook does not know are untouched in the stored object.
		if patches, err = patch(r.Before, r.After); err != nil {
			return admission.Errored(http.StatusInternalServerError, err)
		}
		warnings = r.Mutation.Warnings()
	}
	if len(heldBack) > 0 {
		warnings = append(slices.Clip(warnings), heldBack...)
	}
	if m.record {
		// The rules' own result is the object the patch makes: its
		// identity needs no second decode.
		patches = append(patches, recordOps(r.Object)...)
	}
	resp = admission.Allowed("")
	if len(patches) > 0 {
		resp = admission.Patched("", patches...)
		pt := admissionv1.PatchTypeJSONPatch
		resp.PatchType = &pt
	}
	resp.Warnings = warnings
	return resp
}

// holdBack returns the review of a FlinkDeployment under the policy that
// holds HA back (m.held) where the rules turned HA on for it and one of
// its accounts may not do what HA needs to run, with a warning for each
// such account; otherwise it returns r. The FlinkDeployment carries its
// cluster's whole configuration, so holding HA back there holds it back
// for the cluster: a standalone cluster's objects (its ConfigMap, its
// JobManager and TaskManager workloads) are admitted one by one, and
// holding HA back on one of them would leave the others HA.
func (m *mutator) holdBack(ctx context.Context, req admission.Request, r *Review) (*Review, []string, error) {
	if m.held == nil || r.Kind != FlinkDeploymentKind || len(r.Accounts) == 0 || len(r.Mutation.Changes) == 0 {
		return r, nil, nil
	}
	lacking := lackingHA(ctx, m.checker, r.Accounts)
	if len(lacking) == 0 || ranHA(req, m.held) {
		return r, nil, nil
	}
	// The first run changed the decoded object: the rules read it afresh.
	held, err := run(r.Kind, req.Object.Raw, nil, req.Namespace, m.held, Phases{Mutate: true}, onChange)
	if err != nil || held == nil {
		return r, nil, err
	}
	if len(held.Mutation.Changes) == len(r.Mutation.Changes) && bytes.Equal(held.After, r.After) {
		return r, nil, nil // HA was on already: nothing to hold back
	}
	heldBackTotal.WithLabelValues(r.Kind.Kind).Inc()
	warnings := make([]string, len(lacking))
	for i, l := range lacking {
		warnings[i] = mutate.Warning("%s: HA not turned on: account %s may not %s configmaps", l.account.Path, l.account.Name, verbs(l.denied))
	}
	return held, warnings, nil
}

// ranHA reports whether the FlinkDeployment an update replaces ran with
// HA (its decision under held, the policy that holds HA back, is not
// Skip): holding HA back never turns it off, which would restart the
// cluster without the HA state its jobs recover from. An old object that
// does not decode is taken for one without HA.
func ranHA(req admission.Request, held *policy.Policy) bool {
	if req.Operation != admissionv1.Update || len(req.OldObject.Raw) == 0 {
		return false
	}
	old := &unstructured.Unstructured{}
	if err := json.Unmarshal(req.OldObject.Raw, &old.Object); err != nil {
		return false
	}
	return cluster.FlinkDeployment(old, held).Decision != policy.Skip
}

// lack is an account denied something Kubernetes HA needs to run.
type lack struct {
	account validate.Account
	denied  []validate.Access
}

// lackingHA asks checker about accounts, one after the other within one
// bound, and returns those denied something Kubernetes HA needs to run
// (rights.RunsHA), with what. An account it could not ask about is not
// among them.
func lackingHA(ctx context.Context, checker AccessChecker, accounts []validate.Account) []lack {
	ctx, cancel := context.WithTimeout(ctx, accessTimeout)
	defer cancel()
	var out []lack
	for _, a := range accounts {
		denied, err := checker.Denied(ctx, a)
		if err != nil {
			continue
		}
		if ha := runningHA(denied); len(ha) > 0 {
			out = append(out, lack{a, ha})
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

// verbs lists the verbs of accesses: "get, create".
func verbs(as []validate.Access) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.Verb
	}
	return strings.Join(s, ", ")
}

// Handle implements admission.Handler.
func (v *validator) Handle(ctx context.Context, req admission.Request) admission.Response {
	r, resp, done := review(ctx, req, v.policy, Phases{Validate: true})
	if done {
		return resp
	}
	gk := r.Kind
	if len(r.Accounts) > 0 && v.checker != nil && v.policy.CheckAccounts != policy.CheckOff {
		v.checkAccounts(ctx, req, r)
	}
	errs, warnings := v.collisions.check(ctx, r.Object, req.Namespace, v.policy)
	r.Errors, r.Warnings = append(r.Errors, errs...), append(r.Warnings, warnings...)
	return v.verdict(gk, r.Name, r.Errors, r.Warnings)
}

// checkAccounts adds what the API server says each account lacks, as an
// error or a warning per policy, on the field that names it. The accounts
// are asked one after the other within one bound: a review waits for at
// most one at a time. An authorizer that cannot be asked never denies
// anything. A FlinkDeployment whose HA the mutating webhook held back for
// want of those rights (heldBack) is judged as the policy that holds it
// back judges it, and the warning says that HA waits for the fix.
func (v *validator) checkAccounts(ctx context.Context, req admission.Request, r *Review) {
	ctx, cancel := context.WithTimeout(ctx, accessTimeout)
	defer cancel()
	type answer struct {
		denied []validate.Access
		err    error
	}
	answers := make([]answer, len(r.Accounts))
	lacksHA := false
	for i, a := range r.Accounts {
		answers[i].denied, answers[i].err = v.checker.Denied(ctx, a)
		lacksHA = lacksHA || len(runningHA(answers[i].denied)) > 0
	}
	heldBack := lacksHA && v.heldBack(req, r)
	for i, a := range r.Accounts {
		denied, err := answers[i].denied, answers[i].err
		if err != nil {
			r.Warnings = append(r.Warnings, fmt.Sprintf("%s: could not check the rights of account %s: %v", a.Path, a.Name, err))
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
			r.Warnings = append(r.Warnings, field.Invalid(a.Path, a.Name, fmt.Sprintf(
				"may not %s in %s, which %s need%s with Flink's HA, so HA is not turned on: %s, and apply the FlinkDeployment again",
				strings.Join(lacks, ", "), a.Namespace, a.Role(), verbEnding(a), a.Fix(v.policy.ServiceAccount))).Error())
			continue
		}
		e := field.Invalid(a.Path, a.Name, fmt.Sprintf("may not %s in %s, which %s need%s with Flink's HA: %s",
			strings.Join(lacks, ", "), a.Namespace, a.Role(), verbEnding(a), a.Fix(v.policy.ServiceAccount)))
		if v.policy.CheckAccounts == policy.Enforce {
			r.Errors = append(r.Errors, e)
		} else {
			r.Warnings = append(r.Warnings, e.Error())
		}
	}
}

// heldBack reports whether r is a FlinkDeployment whose HA the policy
// holds back (policy.HoldingBack, as the mutating webhook does for an
// account denied what HA needs) and that does not turn HA on itself; if
// so, r's verdict becomes that policy's, which does not require HA.
func (v *validator) heldBack(req admission.Request, r *Review) bool {
	held := v.policy.HoldingBack()
	if held == nil || r.Kind != FlinkDeploymentKind {
		return false
	}
	h, err := run(r.Kind, req.Object.Raw, nil, req.Namespace, held, Phases{Validate: true}, onChange)
	if err != nil || h == nil || len(h.Accounts) > 0 || ranHA(req, held) {
		// Accounts to check under the policy that holds HA back: the
		// object turns HA on itself, or asks for it.
		return false
	}
	r.Errors, r.Warnings = h.Errors, h.Warnings
	return true
}

// verbEnding agrees "need" with the role: the JobManager needs, the
// TaskManagers need.
func verbEnding(a validate.Account) string {
	if a.TaskManager {
		return ""
	}
	return "s"
}

// verdict denies with one 422 naming every problem, or under a warn-only
// policy admits with the problems as warnings.
func (v *validator) verdict(gk schema.GroupKind, name string, errs field.ErrorList, warnings []string) admission.Response {
	if len(errs) == 0 {
		resp := admission.Allowed("")
		resp.Warnings = warnings
		return resp
	}
	if v.policy.Enforcement == policy.Warn {
		warnedTotal.WithLabelValues(gk.Kind).Inc()
		resp := admission.Allowed("")
		for _, e := range errs {
			resp.Warnings = append(resp.Warnings, e.Error())
		}
		resp.Warnings = append(resp.Warnings, warnings...)
		return resp
	}
	denialsTotal.WithLabelValues(gk.Kind).Inc()
	status := apierrors.NewInvalid(gk, name, errs).Status()
	return admission.Response{AdmissionResponse: admissionv1.AdmissionResponse{Allowed: false, Result: &status, Warnings: warnings}}
}

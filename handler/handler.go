package handler

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	gomodulesjsonpatch "gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
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
// (policy.HoldingBack), does not turn HA on for a cluster that runs a role
// under an account of the user's choosing that checker says may not do
// what HA needs (holding): HA would stop its JobManager at its next start.
// It says so in a warning; the validating webhook's says how to fix it.
func MutatingHoldingBack(p *policy.Policy, checker AccessChecker) admission.Handler {
	return &mutator{policy: p, hold: holdingFor(p, checker)}
}

// holdingFor is what holds HA back under p with checker's answers.
func holdingFor(p *policy.Policy, checker AccessChecker) holding {
	h := holding{checker: checker}
	if checker != nil && p.CheckAccounts != policy.CheckOff {
		h.policy = p.HoldingBack()
	}
	return h
}

// DefaultIdentities says which namespaces' default account carries a
// cloud workload identity, and by which annotation ("" for none).
type DefaultIdentities interface {
	Identity(namespace string) string
}

// WithDefaultIdentities has h, a handler of this package, keep Flink's
// pods under their namespace's default account where defaults says it
// carries a cloud workload identity (policy.KeepingDefault). Any other
// handler is returned as it is.
func WithDefaultIdentities(h admission.Handler, defaults DefaultIdentities) admission.Handler {
	return withHolding(h, func(hold *holding) { hold.defaults = defaults })
}

// WithMounts has h, a handler of this package, read a ConfigMap's cluster
// from mounts: HA is held back alike for a standalone cluster whose
// workloads mount one ConfigMap. Any other handler is returned as it is.
func WithMounts(h admission.Handler, mounts *Mounts) admission.Handler {
	return withHolding(h, func(hold *holding) { hold.mounts = mounts })
}

// withHolding returns a copy of h, a handler of this package, whose
// holding set changed; any other handler as it is.
func withHolding(h admission.Handler, set func(*holding)) admission.Handler {
	switch h := h.(type) {
	case *mutator:
		c := *h
		set(&c.hold)
		return &c
	case *validator:
		c := *h
		set(&c.hold)
		return &c
	}
	return h
}

// Validating returns the validating webhook's handler. With a checker, it
// also asks whether accounts users chose for Flink may do what HA needs
// (policy checkAccounts); without one (offline) it does not.
func Validating(p *policy.Policy, checker AccessChecker) admission.Handler {
	return &validator{policy: p, hold: holdingFor(p, checker)}
}

type mutator struct {
	policy *policy.Policy
	// record adds the recorded annotations (Recording) to the patch.
	record bool
	// hold holds HA back for accounts that may not do what it needs
	// (MutatingHoldingBack), and keeps Flink under default accounts that
	// carry a cloud workload identity (WithDefaultIdentities).
	hold holding
}

type validator struct {
	policy     *policy.Policy
	collisions *Collisions // nil: not checked (offline)
	// hold asks the authorizer (its checker; nil offline), and judges
	// objects whose HA the mutating webhook held back as it did.
	hold holding
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
	if p, hold, ok := m.hold.keepingDefault(m.policy, req.Namespace); ok {
		kept := *m
		kept.policy, kept.hold = p, hold
		return kept.Handle(ctx, req)
	}
	r, resp, done := review(ctx, req, m.policy, Phases{Mutate: true, Accounts: m.hold.policy != nil})
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

// Handle implements admission.Handler.
func (v *validator) Handle(ctx context.Context, req admission.Request) admission.Response {
	if p, hold, ok := v.hold.keepingDefault(v.policy, req.Namespace); ok {
		kept := *v
		kept.policy, kept.hold = p, hold
		return kept.Handle(ctx, req)
	}
	r, resp, done := review(ctx, req, v.policy, Phases{Validate: true})
	if done {
		return resp
	}
	gk := r.Kind
	if v.hold.checker != nil && v.policy.CheckAccounts != policy.CheckOff {
		v.checkAccounts(ctx, req, r)
	}
	errs, warnings := v.collisions.check(ctx, r.Object, req.Namespace, v.policy)
	r.Errors, r.Warnings = append(r.Errors, errs...), append(r.Warnings, warnings...)
	return v.verdict(gk, r.Name, r.Errors, r.Warnings)
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

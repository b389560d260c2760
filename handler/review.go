package handler

import (
	"encoding/json"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/flink-ha-webhook/flink-ha-webhook/mutate"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
	"github.com/flink-ha-webhook/flink-ha-webhook/recognise"
	"github.com/flink-ha-webhook/flink-ha-webhook/validate"
)

// FlinkDeploymentKind is the Flink Kubernetes Operator's cluster resource.
var FlinkDeploymentKind = recognise.FlinkDeploymentKind

// object is a decoded Kubernetes object of type T, as a pointer.
type object[T any] interface {
	*T
	metav1.Object
	runtime.Object
}

// rules is how the rules apply to objects of one type.
type rules[T any, P object[T]] struct {
	mutate   func(P, *policy.Policy) mutate.Result
	validate func(P, *policy.Policy) (field.ErrorList, []string)
	// accounts names the accounts of the user's choosing to check, one
	// per role that runs under one, if any.
	accounts func(P, *policy.Policy) []validate.Account
	// skipping is the object, wrapped to be decoded into without its
	// managed fields (metaSkippingManagedFields); nil for a kind decoded
	// as a map.
	skipping func(P) any
}

// kind runs the rules of one kind on a JSON object.
type kind interface {
	run(gk schema.GroupKind, raw []byte, decoded runtime.Object, namespace string, p *policy.Policy, phases Phases, encode encoding) (*Review, error)
	// newObject is an empty object of the kind's type.
	newObject() runtime.Object
	// decodeTarget is what the webhooks decode obj, of the kind's type,
	// into: obj, or obj wrapped to skip its managed fields.
	decodeTarget(obj runtime.Object) any
	// decodesItself reports whether the kind's type has its own JSON
	// decoding (json.Unmarshaler), which reads the object's bytes apart
	// from the review's whatever the decoding around it.
	decodesItself() bool
}

// encoding says when a review carries the object as JSON (Before, After).
type encoding uint8

const (
	// always: Run's callers read Before and After whatever happened.
	always encoding = iota
	// onChange: the webhooks read them only to make a patch, so they are
	// written only when the mutating rules changed something.
	onChange
)

// workload is the rules of a kind that runs a pod template: parts returns
// its metadata, the template, how many pods run at once and where that
// number is set.
func workload[T any, P object[T]](parts func(P) (*metav1.ObjectMeta, *corev1.PodTemplateSpec, int32, *field.Path), skipping func(P) any) kind {
	return rules[T, P]{
		skipping: skipping,
		mutate: func(o P, p *policy.Policy) mutate.Result {
			meta, tpl, _, _ := parts(o)
			return mutate.Workload(meta, tpl, p)
		},
		validate: func(o P, p *policy.Policy) (field.ErrorList, []string) {
			meta, tpl, n, at := parts(o)
			return validate.Workload(meta, tpl, n, at, p)
		},
		accounts: func(o P, p *policy.Policy) []validate.Account {
			meta, tpl, _, _ := parts(o)
			if a, ok := validate.WorkloadAccount(meta, tpl, p); ok {
				return []validate.Account{a}
			}
			return nil
		},
	}
}

func one(n *int32) int32 {
	if n == nil {
		return 1
	}
	return *n
}

var replicasPath, parallelismPath = field.NewPath("spec", "replicas"), field.NewPath("spec", "parallelism")

var kinds = map[schema.GroupKind]kind{
	FlinkDeploymentKind: rules[unstructured.Unstructured, *unstructured.Unstructured]{
		mutate: mutate.FlinkDeployment, validate: validate.FlinkDeployment, accounts: validate.FlinkDeploymentAccounts,
	},
	{Kind: "ConfigMap"}: rules[corev1.ConfigMap, *corev1.ConfigMap]{mutate: mutate.ConfigMap, validate: validate.ConfigMap,
		skipping: func(c *corev1.ConfigMap) any {
			return &struct {
				*corev1.ConfigMap
				Metadata metaSkippingManagedFields `json:"metadata,omitempty"`
			}{c, metaSkippingManagedFields{ObjectMeta: &c.ObjectMeta}}
		}},
	{Group: "apps", Kind: "Deployment"}: workload(func(d *appsv1.Deployment) (*metav1.ObjectMeta, *corev1.PodTemplateSpec, int32, *field.Path) {
		return &d.ObjectMeta, &d.Spec.Template, one(d.Spec.Replicas), replicasPath
	}, func(d *appsv1.Deployment) any {
		return &struct {
			*appsv1.Deployment
			Metadata metaSkippingManagedFields `json:"metadata,omitempty"`
		}{d, metaSkippingManagedFields{ObjectMeta: &d.ObjectMeta}}
	}),
	{Group: "apps", Kind: "StatefulSet"}: workload(func(s *appsv1.StatefulSet) (*metav1.ObjectMeta, *corev1.PodTemplateSpec, int32, *field.Path) {
		return &s.ObjectMeta, &s.Spec.Template, one(s.Spec.Replicas), replicasPath
	}, func(s *appsv1.StatefulSet) any {
		return &struct {
			*appsv1.StatefulSet
			Metadata metaSkippingManagedFields `json:"metadata,omitempty"`
		}{s, metaSkippingManagedFields{ObjectMeta: &s.ObjectMeta}}
	}),
	{Group: "batch", Kind: "Job"}: workload(func(j *batchv1.Job) (*metav1.ObjectMeta, *corev1.PodTemplateSpec, int32, *field.Path) {
		return &j.ObjectMeta, &j.Spec.Template, one(j.Spec.Parallelism), parallelismPath
	}, func(j *batchv1.Job) any {
		return &struct {
			*batchv1.Job
			Metadata metaSkippingManagedFields `json:"metadata,omitempty"`
		}{j, metaSkippingManagedFields{ObjectMeta: &j.ObjectMeta}}
	}),
}

// Known reports whether the rules handle objects of gk.
func Known(gk schema.GroupKind) bool {
	_, ok := kinds[gk]
	return ok
}

// Review is what the rules make of one object.
type Review struct {
	Kind schema.GroupKind
	Name string
	// Before and After are the object as decoded, and after the mutating
	// rules, as JSON. Run always sets them; the webhooks set them only
	// when the mutating rules changed something.
	Before, After []byte
	// Object is the decoded object after the mutating rules: what After
	// encodes.
	Object   metav1.Object
	Mutation mutate.Result
	// Errors and Warnings are the validating rules' verdict on After.
	Errors   field.ErrorList
	Warnings []string
	// Accounts are the accounts of the user's choosing whose rights the
	// validating webhook asks the API server about: one per role of the
	// cluster that runs under one (a FlinkDeployment's JobManager and
	// TaskManagers may run under different accounts).
	Accounts []validate.Account
}

// Phases select the rules Run applies: the mutating webhook runs only the
// mutating rules, the validating webhook only the validating ones, and the
// offline command both, in the API server's order.
type Phases struct {
	Mutate, Validate bool
	// Accounts has the mutating webhook's review name the accounts to
	// check too (Review.Accounts) where the rules changed the object: only
	// a change can be held back. The validating webhook's always does.
	Accounts bool
}

// Run applies the rules for gk to the JSON object raw, whose namespace is
// namespace when the object does not name one. A kind the rules do not
// handle gives (nil, nil).
func Run(gk schema.GroupKind, raw []byte, namespace string, p *policy.Policy, phases Phases) (*Review, error) {
	return run(gk, raw, nil, namespace, p, phases, always)
}

// run is Run of a review whose object may already be decoded: decoded,
// when of gk's type, is raw decoded, and the rules' to change.
func run(gk schema.GroupKind, raw []byte, decoded runtime.Object, namespace string, p *policy.Policy, phases Phases, encode encoding) (*Review, error) {
	k, ok := kinds[gk]
	if !ok {
		return nil, nil
	}
	return k.run(gk, raw, decoded, namespace, p, phases, encode)
}

func (k rules[T, P]) newObject() runtime.Object { return P(new(T)) }

func (k rules[T, P]) decodeTarget(obj runtime.Object) any {
	if k.skipping == nil {
		return obj
	}
	return k.skipping(obj.(P))
}

func (k rules[T, P]) decodesItself() bool {
	_, ok := any(P(nil)).(json.Unmarshaler)
	return ok
}

func (k rules[T, P]) run(gk schema.GroupKind, raw []byte, decoded runtime.Object, namespace string, p *policy.Policy, phases Phases, encode encoding) (*Review, error) {
	obj, ok := decoded.(P)
	if !ok || obj == nil {
		obj = P(new(T))
		var into any = obj
		if encode == onChange {
			// The webhooks answer with a patch, which leaves the managed
			// fields as they are; Run's callers get the object itself.
			if into = k.decodeTarget(obj); into == any(obj) {
				raw = withoutManagedFields(raw)
			}
		}
		if err := json.Unmarshal(raw, into); err != nil {
			return nil, fmt.Errorf("decoding the %s: %w", gk.Kind, err)
		}
	}
	if obj.GetNamespace() == "" {
		obj.SetNamespace(namespace)
	}
	r := &Review{Kind: gk, Name: obj.GetName(), Object: obj}
	var err error
	if encode == always {
		if r.Before, err = marshal(obj); err != nil {
			return nil, err
		}
		r.After = r.Before
	}
	if phases.Mutate {
		// Most objects come through unchanged: a copy of the decoded
		// object costs a fraction of writing it as JSON, which only a
		// change needs.
		var before runtime.Object
		if encode == onChange {
			before = obj.DeepCopyObject()
		}
		r.Mutation = k.mutate(obj, p)
		if len(r.Mutation.Changes) > 0 {
			if before != nil {
				if r.Before, err = marshal(before); err != nil {
					return nil, err
				}
			}
			if r.After, err = marshal(obj); err != nil {
				return nil, err
			}
		}
	}
	if phases.Validate || len(r.Mutation.Changes) > 0 && p.Enforcement == policy.Enforce {
		r.Errors, r.Warnings = k.validate(obj, p)
	}
	if len(r.Errors) > 0 && p.Enforcement == policy.Enforce {
		// Denied anyway: what was set would only hide what to fix.
		r.Mutation.Quiet()
	}
	if !phases.Validate {
		r.Errors, r.Warnings = nil, nil
	}
	if (phases.Validate || phases.Accounts && len(r.Mutation.Changes) > 0) && k.accounts != nil {
		r.Accounts = k.accounts(obj, p)
	}
	return r, nil
}

// marshal writes obj as JSON, as json.Marshal does. An unstructured object
// (a FlinkDeployment) is written as its map, which is what its MarshalJSON
// writes, without the copy and second scan json.Marshal makes of a
// MarshalJSON's output.
func marshal(obj runtime.Object) ([]byte, error) {
	if u, ok := obj.(*unstructured.Unstructured); ok && u.Object != nil {
		return json.Marshal(u.Object)
	}
	return json.Marshal(obj)
}

package handler

import (
	"encoding/json"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/flink-ha-webhook/flink-ha-webhook/mutate"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
	"github.com/flink-ha-webhook/flink-ha-webhook/validate"
)

// object is what the rules work on: a typed Kubernetes object.
type object interface {
	metav1.Object
}

// kind is how the rules apply to one kind of object.
type kind struct {
	new      func() object
	mutate   func(object, *policy.Policy) mutate.Result
	validate func(object, *policy.Policy) (field.ErrorList, []string)
	// account names the account of the user's choosing to check, if any.
	account func(object, *policy.Policy) (validate.Account, bool)
}

func one(n *int32) int32 {
	if n == nil {
		return 1
	}
	return *n
}

// FlinkDeploymentKind is the Flink Kubernetes Operator's cluster resource.
var FlinkDeploymentKind = schema.GroupKind{Group: "flink.apache.org", Kind: "FlinkDeployment"}

var kinds = map[schema.GroupKind]kind{
	FlinkDeploymentKind: {
		new: func() object { return &unstructured.Unstructured{} },
		mutate: func(o object, p *policy.Policy) mutate.Result {
			return mutate.FlinkDeployment(o.(*unstructured.Unstructured), p)
		},
		validate: func(o object, p *policy.Policy) (field.ErrorList, []string) {
			return validate.FlinkDeployment(o.(*unstructured.Unstructured), p)
		},
		account: func(o object, p *policy.Policy) (validate.Account, bool) {
			return validate.FlinkDeploymentAccount(o.(*unstructured.Unstructured), p)
		},
	},
	{Kind: "ConfigMap"}: {
		new:    func() object { return &corev1.ConfigMap{} },
		mutate: func(o object, p *policy.Policy) mutate.Result { return mutate.ConfigMap(o.(*corev1.ConfigMap), p) },
		validate: func(o object, p *policy.Policy) (field.ErrorList, []string) {
			return validate.ConfigMap(o.(*corev1.ConfigMap), p)
		},
	},
	{Group: "apps", Kind: "Deployment"}: {
		new: func() object { return &appsv1.Deployment{} },
		mutate: func(o object, p *policy.Policy) mutate.Result {
			d := o.(*appsv1.Deployment)
			return mutate.Workload(&d.ObjectMeta, &d.Spec.Template, p)
		},
		validate: func(o object, p *policy.Policy) (field.ErrorList, []string) {
			d := o.(*appsv1.Deployment)
			return validate.Workload(&d.ObjectMeta, &d.Spec.Template, one(d.Spec.Replicas), field.NewPath("spec", "replicas"), p)
		},
		account: func(o object, p *policy.Policy) (validate.Account, bool) {
			d := o.(*appsv1.Deployment)
			return validate.WorkloadAccount(&d.ObjectMeta, &d.Spec.Template, p)
		},
	},
	{Group: "apps", Kind: "StatefulSet"}: {
		new: func() object { return &appsv1.StatefulSet{} },
		mutate: func(o object, p *policy.Policy) mutate.Result {
			s := o.(*appsv1.StatefulSet)
			return mutate.Workload(&s.ObjectMeta, &s.Spec.Template, p)
		},
		validate: func(o object, p *policy.Policy) (field.ErrorList, []string) {
			s := o.(*appsv1.StatefulSet)
			return validate.Workload(&s.ObjectMeta, &s.Spec.Template, one(s.Spec.Replicas), field.NewPath("spec", "replicas"), p)
		},
		account: func(o object, p *policy.Policy) (validate.Account, bool) {
			s := o.(*appsv1.StatefulSet)
			return validate.WorkloadAccount(&s.ObjectMeta, &s.Spec.Template, p)
		},
	},
	{Group: "batch", Kind: "Job"}: {
		new: func() object { return &batchv1.Job{} },
		mutate: func(o object, p *policy.Policy) mutate.Result {
			j := o.(*batchv1.Job)
			return mutate.Workload(&j.ObjectMeta, &j.Spec.Template, p)
		},
		validate: func(o object, p *policy.Policy) (field.ErrorList, []string) {
			j := o.(*batchv1.Job)
			return validate.Workload(&j.ObjectMeta, &j.Spec.Template, one(j.Spec.Parallelism), field.NewPath("spec", "parallelism"), p)
		},
		account: func(o object, p *policy.Policy) (validate.Account, bool) {
			j := o.(*batchv1.Job)
			return validate.WorkloadAccount(&j.ObjectMeta, &j.Spec.Template, p)
		},
	},
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
	// rules, as JSON.
	Before, After []byte
	Mutation      mutate.Result
	// Errors and Warnings are the validating rules' verdict on After.
	Errors   field.ErrorList
	Warnings []string
	// Account, when set, is an account of the user's choosing whose
	// rights the validating webhook asks the API server about.
	Account *validate.Account
}

// Phases select the rules Run applies: the mutating webhook runs only the
// mutating rules, the validating webhook only the validating ones, and the
// offline command both, in the API server's order.
type Phases struct{ Mutate, Validate bool }

// Run applies the rules for gk to the JSON object raw, whose namespace is
// namespace when the object does not name one. A kind the rules do not
// handle gives (nil, nil).
func Run(gk schema.GroupKind, raw []byte, namespace string, p *policy.Policy, phases Phases) (*Review, error) {
	k, ok := kinds[gk]
	if !ok {
		return nil, nil
	}
	obj := k.new()
	if err := json.Unmarshal(raw, obj); err != nil {
		return nil, fmt.Errorf("decoding the %s: %w", gk.Kind, err)
	}
	if obj.GetNamespace() == "" {
		obj.SetNamespace(namespace)
	}
	r := &Review{Kind: gk, Name: obj.GetName()}
	var err error
	if r.Before, err = json.Marshal(obj); err != nil {
		return nil, err
	}
	r.After = r.Before
	if phases.Mutate {
		r.Mutation = k.mutate(obj, p)
		if len(r.Mutation.Changes) > 0 {
			if r.After, err = json.Marshal(obj); err != nil {
				return nil, err
			}
		}
	}
	if phases.Validate {
		r.Errors, r.Warnings = k.validate(obj, p)
		if k.account != nil {
			if a, ok := k.account(obj, p); ok {
				r.Account = &a
			}
		}
	}
	return r, nil
}

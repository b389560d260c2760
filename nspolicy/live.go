package nspolicy

import (
	"context"
	"fmt"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
)

// Live reads FlinkHAPolicies and namespace labels from the manager's cache,
// so that a change applies to the next admission without a restart.
type Live struct {
	// parsed are the FlinkHAPolicies as last read, keyed by their names
	// and resourceVersions: every admission asks, policies rarely change.
	mu     sync.Mutex
	key    string
	parsed []FlinkHAPolicy

	reader client.Reader
	// direct reads a namespace the cache has not seen yet: one created
	// just before its first object (kubectl create namespace, then apply)
	// must get its own policy, not the policy file.
	direct  client.Reader
	Default *policy.Policy
}

// Setup watches FlinkHAPolicies and namespace metadata in mgr's cache. It
// returns nil where the CRD is not installed: the policy file is then the
// only policy (a CRD installed later is read after a restart).
func Setup(ctx context.Context, mgr ctrl.Manager, def *policy.Policy) (*Live, error) {
	if _, err := mgr.GetRESTMapper().RESTMapping(GroupVersionKind.GroupKind(), GroupVersionKind.Version); meta.IsNoMatchError(err) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("looking for the FlinkHAPolicy resource: %w", err)
	}
	policies := &unstructured.Unstructured{}
	policies.SetGroupVersionKind(GroupVersionKind)
	namespaces := &metav1.PartialObjectMetadata{}
	namespaces.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	for _, o := range []client.Object{policies, namespaces} {
		if _, err := mgr.GetCache().GetInformer(ctx, o); err != nil {
			return nil, fmt.Errorf("watching %s: %w", o.GetObjectKind().GroupVersionKind().Kind, err)
		}
	}
	return &Live{reader: mgr.GetCache(), direct: mgr.GetAPIReader(), Default: def}, nil
}

// For returns the policy of namespace. A policy that cannot be read
// (which the CRD's validation should make impossible) is reported, and the
// policy file applies.
func (l *Live) For(ctx context.Context, namespace string) (*policy.Policy, error) {
	if l == nil {
		return nil, nil
	}
	ns := &metav1.PartialObjectMetadata{}
	ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	err := l.reader.Get(ctx, client.ObjectKey{Name: namespace}, ns)
	if apierrors.IsNotFound(err) && l.direct != nil {
		err = l.direct.Get(ctx, client.ObjectKey{Name: namespace}, ns)
	}
	if err != nil {
		return l.Default, fmt.Errorf("reading the labels of namespace %s: %w", namespace, err)
	}
	policies, err := l.policies(ctx)
	if err != nil {
		return l.Default, err
	}
	s := &Set{Default: l.Default, Policies: policies}
	p, _, err := s.For(ns.Labels)
	if err != nil {
		return l.Default, err
	}
	return p, nil
}

// PerNamespace serves each admission request with the handler made for the
// policy of its namespace. Without live policies it is make(def).
func PerNamespace(l *Live, def *policy.Policy, make func(*policy.Policy) admission.Handler) admission.Handler {
	if l == nil {
		return make(def)
	}
	return admission.HandlerFunc(func(ctx context.Context, req admission.Request) admission.Response {
		p, err := l.For(ctx, req.Namespace)
		if err != nil {
			logf.FromContext(ctx).Error(err, "namespace policy unreadable; the policy file applies", "namespace", req.Namespace)
		}
		return make(p).Handle(ctx, req)
	})
}

// policies returns the FlinkHAPolicies in the cache, converting them only
// when one was added, changed or removed since the last call.
func (l *Live) policies(ctx context.Context) ([]FlinkHAPolicy, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(GroupVersionKind.GroupVersion().WithKind(GroupVersionKind.Kind + "List"))
	noCopy := true // read only: the cache's own objects are not changed
	if err := l.reader.List(ctx, list, &client.ListOptions{UnsafeDisableDeepCopy: &noCopy}); err != nil {
		return nil, fmt.Errorf("listing FlinkHAPolicies: %w", err)
	}
	var key strings.Builder
	for _, u := range list.Items {
		key.WriteString(u.GetName() + "@" + u.GetResourceVersion() + ",")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if key.String() == l.key && l.parsed != nil {
		return l.parsed, nil
	}
	parsed := make([]FlinkHAPolicy, 0, len(list.Items))
	for _, u := range list.Items {
		var fp FlinkHAPolicy
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &fp); err != nil {
			return nil, fmt.Errorf("FlinkHAPolicy %s: %w", u.GetName(), err)
		}
		parsed = append(parsed, fp)
	}
	l.key, l.parsed = key.String(), parsed
	return parsed, nil
}

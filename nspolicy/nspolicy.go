package nspolicy

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
)

// GroupVersionKind is the FlinkHAPolicy resource's.
var GroupVersionKind = schema.GroupVersionKind{Group: "flink-ha-webhook.io", Version: "v1alpha1", Kind: "FlinkHAPolicy"}

// FlinkHAPolicy is the policy of the namespaces its selector picks.
type FlinkHAPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              Spec `json:"spec"`
}

// Spec is what a FlinkHAPolicy sets. Fields left empty come from the
// policy file.
type Spec struct {
	// NamespaceSelector picks the namespaces by label; empty picks all.
	NamespaceSelector metav1.LabelSelector `json:"namespaceSelector"`
	// Priority decides between policies that pick one namespace: the
	// highest wins, then the first by name.
	Priority       int32              `json:"priority,omitempty"`
	StorageDir     string             `json:"storageDir,omitempty"`
	ServiceAccount string             `json:"serviceAccount,omitempty"`
	Mode           policy.Mode        `json:"mode,omitempty"`
	Enforcement    policy.Enforcement `json:"enforcement,omitempty"`
	CheckAccounts  policy.Enforcement `json:"checkAccounts,omitempty"`
	AllowOptOut    *bool              `json:"allowOptOut,omitempty"`
}

// Apply returns base with the fields the spec sets in its place, checked
// as a policy file is.
func (s *Spec) Apply(base *policy.Policy) (*policy.Policy, error) {
	p := *base
	p.ExemptNamespaces = slices.Clone(base.ExemptNamespaces)
	if s.StorageDir != "" {
		p.StorageDir = s.StorageDir
	}
	if s.ServiceAccount != "" {
		p.ServiceAccount = s.ServiceAccount
	}
	if s.Mode != "" {
		p.Mode = s.Mode
	}
	if s.Enforcement != "" {
		p.Enforcement = s.Enforcement
	}
	if s.CheckAccounts != "" {
		p.CheckAccounts = s.CheckAccounts
	}
	// A namespace's policy shares nothing with the policy file, which
	// every other namespace's is made from.
	if allow := cmp.Or(s.AllowOptOut, base.AllowOptOut); allow != nil {
		v := *allow
		p.AllowOptOut = &v
	}
	if errs := p.Validate(); len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	return &p, nil
}

// Set is the policy file and the FlinkHAPolicies that override it.
type Set struct {
	Default  *policy.Policy
	Policies []FlinkHAPolicy
}

// For returns the policy of a namespace with the given labels and the name
// of the FlinkHAPolicy it comes from ("" for the policy file).
func (s *Set) For(namespaceLabels map[string]string) (*policy.Policy, string, error) {
	var best *FlinkHAPolicy
	for i := range s.Policies {
		fp := &s.Policies[i]
		sel, err := metav1.LabelSelectorAsSelector(&fp.Spec.NamespaceSelector)
		if err != nil {
			return nil, fp.Name, fmt.Errorf("FlinkHAPolicy %s: spec.namespaceSelector: %w", fp.Name, err)
		}
		if !sel.Matches(labels.Set(namespaceLabels)) {
			continue
		}
		if best == nil || cmp.Or(cmp.Compare(fp.Spec.Priority, best.Spec.Priority), cmp.Compare(best.Name, fp.Name)) > 0 {
			best = fp
		}
	}
	if best == nil {
		return s.Default, "", nil
	}
	p, err := best.Spec.Apply(s.Default)
	if err != nil {
		return nil, best.Name, fmt.Errorf("FlinkHAPolicy %s: %w", best.Name, err)
	}
	return p, best.Name, nil
}

// Parse reads a stream of YAML documents: FlinkHAPolicies, as applied to
// the cluster, and at most one policy file document, the default.
func Parse(raw []byte) (*Set, error) {
	s := &Set{}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
	var plain []byte
	for n := 1; ; n++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		js, err := yaml.YAMLToJSONStrict(doc)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		if bytes.Equal(bytes.TrimSpace(js), []byte("null")) {
			continue
		}
		var tm metav1.TypeMeta
		if err := kjson.UnmarshalCaseSensitivePreserveInts(js, &tm); err != nil {
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		if tm.Kind == "" && tm.APIVersion == "" {
			if plain != nil {
				return nil, fmt.Errorf("document %d: a second policy file document; keep one, and FlinkHAPolicies", n)
			}
			plain = doc
			continue
		}
		if tm.GroupVersionKind() != GroupVersionKind {
			return nil, fmt.Errorf("document %d: %s %s is not a policy; expected %s/%s", n, tm.APIVersion, tm.Kind, GroupVersionKind.GroupVersion(), GroupVersionKind.Kind)
		}
		var fp FlinkHAPolicy
		strict, err := kjson.UnmarshalStrict(js, &fp, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		if len(strict) > 0 {
			return nil, fmt.Errorf("FlinkHAPolicy %s: %w", fp.Name, errors.Join(strict...))
		}
		s.Policies = append(s.Policies, fp)
	}
	s.Default = policy.Default()
	if plain != nil {
		p, err := policy.Parse(plain)
		if err != nil {
			return nil, err
		}
		s.Default = p
	}
	for i := range s.Policies {
		if _, err := s.Policies[i].Spec.Apply(s.Default); err != nil {
			return nil, fmt.Errorf("FlinkHAPolicy %s: %w", s.Policies[i].Name, err)
		}
	}
	return s, nil
}

// Load reads Parse's documents from a file; no path is the default policy.
func Load(path string) (*Set, error) {
	if path == "" {
		return &Set{Default: policy.Default()}, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the policy: %w", err)
	}
	s, err := Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	return s, nil
}

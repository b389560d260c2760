package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
)

// Mode says which Flink clusters are made highly available.
type Mode string

const (
	// ModeAll makes every Flink cluster highly available unless it opts out.
	ModeAll Mode = "all"
	// ModeOptIn only completes clusters that turn HA on themselves or carry
	// the annotation AnnotationHA set to "on".
	ModeOptIn Mode = "opt-in"
)

// Enforcement says what happens to a Flink object that cannot work as HA.
type Enforcement string

const (
	// Enforce denies it, naming every problem and its fix.
	Enforce Enforcement = "enforce"
	// Warn admits it with the same messages as warnings.
	Warn Enforcement = "warn"
)

// AnnotationHA on a Flink object asks for HA ("on") or, where the policy
// allows it, opts out of everything the webhook does ("off").
const AnnotationHA = "flink-ha-webhook/ha"

// Placeholders the storageDir template may use.
const (
	PlaceholderNamespace = "{namespace}"
	PlaceholderClusterID = "{clusterId}"
)

// Policy is the webhook's configuration file.
type Policy struct {
	// StorageDir is the template for high-availability.storageDir, with
	// {namespace} and {clusterId} placeholders. Empty means users must set
	// a storageDir themselves.
	StorageDir string `json:"storageDir,omitempty"`
	// ServiceAccount is given to Flink pods that run under none or
	// "default".
	ServiceAccount string `json:"serviceAccount,omitempty"`
	// Mode is "all" (default) or "opt-in".
	Mode Mode `json:"mode,omitempty"`
	// Enforcement is "enforce" (default) or "warn".
	Enforcement Enforcement `json:"enforcement,omitempty"`
	// ExemptNamespaces are left alone entirely.
	ExemptNamespaces []string `json:"exemptNamespaces,omitempty"`
	// AllowOptOut honours AnnotationHA: "off" (default true).
	AllowOptOut *bool `json:"allowOptOut,omitempty"`
	// CheckAccounts asks the API server whether an account the user chose
	// for Flink may do what HA needs: "warn" (default), "enforce" or "off".
	CheckAccounts Enforcement `json:"checkAccounts,omitempty"`

	// DefaultIdentity is set per namespace, never in a file
	// (KeepingDefault): the annotation by which the namespace's default
	// account carries a cloud workload identity, so Flink's pods stay
	// under it and it counts as an account the user chose.
	DefaultIdentity string `json:"-"`
}

// CheckOff turns the account check off.
const CheckOff Enforcement = "off"

// UnmarshalJSON reads an Enforcement. YAML 1.1 reads an unquoted off as
// false, so false is taken for "off", as the person who wrote it meant.
func (e *Enforcement) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "false":
		*e = CheckOff
		return nil
	case "true":
		return errors.New(`true is not a choice here: write warn, enforce or off`)
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*e = Enforcement(s)
	return nil
}

// HoldingBack is the policy for an object whose accounts of the user's
// choosing may not do what Flink's Kubernetes HA needs: where
// checkAccounts warns, HA is not turned on for it (its JobManager would
// fail at its next start), but completed where the object turns it on
// itself or asks for it with AnnotationHA, as in opt-in mode. It is nil
// where nothing is held back: under enforce such an object is denied,
// off asks nothing, and opt-in turns nothing on unasked.
func (p *Policy) HoldingBack() *Policy {
	if p.Mode != ModeAll || p.CheckAccounts != Warn {
		return nil
	}
	held := *p
	held.Mode = ModeOptIn
	return &held
}

// KeepingDefault is the policy for a namespace whose default account
// carries a cloud workload identity by the annotation identity (such as
// eks.amazonaws.com/role-arn): the identity provider trusts that account
// by name, so Flink's pods moved off it to ServiceAccount would lose the
// identity (and, most often, the storage their checkpoints and HA data
// live in). They stay under default, which is then asked about like an
// account the user chose.
func (p *Policy) KeepingDefault(identity string) *Policy {
	kept := *p
	kept.DefaultIdentity = identity
	return &kept
}

// DefaultServiceAccount is the account injected when the policy names none.
const DefaultServiceAccount = "flink-ha"

// Default is the policy of a webhook started without a policy file: HA for
// every cluster, storageDir left to the user, violations denied.
func Default() *Policy {
	p := &Policy{}
	p.setDefaults()
	return p
}

// Load reads and checks a policy file.
func Load(path string) (*Policy, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the policy: %w", err)
	}
	p, err := Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	return p, nil
}

// LoadOrDefault reads the policy file at path, or returns the default
// policy when path is empty.
func LoadOrDefault(path string) (*Policy, error) {
	if path == "" {
		return Default(), nil
	}
	return Load(path)
}

// Parse reads a policy, refusing unknown fields, fills in defaults and
// checks every field, reporting all problems at once.
func Parse(raw []byte) (*Policy, error) {
	p := &Policy{}
	js, err := yaml.YAMLToJSONStrict(raw) // refuses duplicate keys
	if err != nil {
		return nil, fmt.Errorf("not a valid policy: %w", err)
	}
	// Field names are matched exactly: "storagedir" is a typo to report,
	// not a spelling of storageDir.
	strict, err := kjson.UnmarshalStrict(js, p, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return nil, fmt.Errorf("not a valid policy: %w", err)
	}
	if len(strict) > 0 {
		return nil, fmt.Errorf("not a valid policy: %w", errors.Join(strict...))
	}
	p.setDefaults()
	if errs := p.Validate(); len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	return p, nil
}

func (p *Policy) setDefaults() {
	if p.ServiceAccount == "" {
		p.ServiceAccount = DefaultServiceAccount
	}
	if p.Mode == "" {
		p.Mode = ModeAll
	}
	if p.Enforcement == "" {
		p.Enforcement = Enforce
	}
	if p.CheckAccounts == "" {
		p.CheckAccounts = Warn
	}
	if p.AllowOptOut == nil {
		yes := true
		p.AllowOptOut = &yes
	}
}

var placeholder = regexp.MustCompile(`\{[^{}]*\}`)

// Validate checks every field of a defaulted policy.
func (p *Policy) Validate() field.ErrorList {
	var errs field.ErrorList
	if p.StorageDir != "" {
		path := field.NewPath("storageDir")
		for _, ph := range placeholder.FindAllString(p.StorageDir, -1) {
			if ph != PlaceholderNamespace && ph != PlaceholderClusterID {
				errs = append(errs, field.Invalid(path, p.StorageDir,
					fmt.Sprintf("unknown placeholder %s; use %s and %s", ph, PlaceholderNamespace, PlaceholderClusterID)))
			}
		}
		if !strings.Contains(p.StorageDir, PlaceholderClusterID) {
			errs = append(errs, field.Invalid(path, p.StorageDir,
				fmt.Sprintf("must contain %s: clusters sharing one storageDir recover each other's jobs", PlaceholderClusterID)))
		}
		sample := p.StorageDirFor("namespace", "cluster")
		if _, err := flinkconf.CheckStorageDir(sample); err != nil {
			errs = append(errs, field.Invalid(path, p.StorageDir, err.Error()))
		}
	}
	for _, msg := range validation.IsDNS1123Subdomain(p.ServiceAccount) {
		errs = append(errs, field.Invalid(field.NewPath("serviceAccount"), p.ServiceAccount, msg))
	}
	if p.ServiceAccount == "default" {
		errs = append(errs, field.Invalid(field.NewPath("serviceAccount"), p.ServiceAccount,
			"the default account is the one the webhook replaces; name a dedicated account"))
	}
	if !slices.Contains([]Mode{ModeAll, ModeOptIn}, p.Mode) {
		errs = append(errs, field.NotSupported(field.NewPath("mode"), p.Mode, []Mode{ModeAll, ModeOptIn}))
	}
	if !slices.Contains([]Enforcement{Enforce, Warn}, p.Enforcement) {
		errs = append(errs, field.NotSupported(field.NewPath("enforcement"), p.Enforcement, []Enforcement{Enforce, Warn}))
	}
	if !slices.Contains([]Enforcement{Enforce, Warn, CheckOff}, p.CheckAccounts) {
		errs = append(errs, field.NotSupported(field.NewPath("checkAccounts"), p.CheckAccounts, []Enforcement{Enforce, Warn, CheckOff}))
	}
	for i, ns := range p.ExemptNamespaces {
		for _, msg := range validation.IsDNS1123Label(ns) {
			errs = append(errs, field.Invalid(field.NewPath("exemptNamespaces").Index(i), ns, msg))
		}
	}
	return errs
}

// StorageDirFor renders the storageDir template for one cluster; "" when
// the policy has no template.
func (p *Policy) StorageDirFor(namespace, clusterID string) string {
	if p.StorageDir == "" {
		return ""
	}
	return strings.NewReplacer(PlaceholderNamespace, namespace, PlaceholderClusterID, clusterID).Replace(p.StorageDir)
}

// Exempt reports whether the webhook leaves namespace alone.
func (p *Policy) Exempt(namespace string) bool {
	return slices.Contains(p.ExemptNamespaces, namespace)
}

// Decision is what the policy says about one object's annotations.
type Decision int

const (
	// Skip: leave the object alone.
	Skip Decision = iota
	// Complete: fill in what an HA cluster the user asked for lacks.
	Complete
	// MakeHA: turn HA on, and complete it.
	MakeHA
)

// ErrOptOutForbidden is returned by Decide for an object that opts out where
// the policy forbids it.
var ErrOptOutForbidden = errors.New(AnnotationHA + `: "off" is not allowed by the policy of this cluster; remove the annotation`)

// Decide applies mode and opt-out to an object's annotations and whether it
// already turns HA on.
func (p *Policy) Decide(annotations map[string]string, haOn bool) (Decision, error) {
	switch annotations[AnnotationHA] {
	case "off":
		if *p.AllowOptOut {
			return Skip, nil
		}
		return MakeHA, ErrOptOutForbidden
	case "on":
		return MakeHA, nil
	}
	if p.Mode == ModeAll {
		return MakeHA, nil
	}
	if haOn {
		return Complete, nil
	}
	return Skip, nil
}

package policy

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	t.Parallel()
	yes, no := true, false
	cases := map[string]struct {
		in   string
		want *Policy
		err  string
	}{
		"an empty file is the default policy": {
			in:   "",
			want: &Policy{ServiceAccount: "flink-ha", Mode: ModeAll, Enforcement: Enforce, AllowOptOut: &yes, CheckAccounts: Warn},
		},
		"every field": {
			in: `storageDir: s3://flink-ha/{namespace}/{clusterId}
serviceAccount: flink
mode: opt-in
enforcement: warn
exemptNamespaces: [legacy, sandbox]
allowOptOut: false
checkAccounts: enforce
`,
			want: &Policy{StorageDir: "s3://flink-ha/{namespace}/{clusterId}", ServiceAccount: "flink", Mode: ModeOptIn,
				Enforcement: Warn, ExemptNamespaces: []string{"legacy", "sandbox"}, AllowOptOut: &no, CheckAccounts: Enforce},
		},
		"an unknown field is refused": {
			in:  "storagedir: s3://x/{clusterId}\n",
			err: `not a valid policy: unknown field "storagedir"`,
		},
		"every problem is reported at once": {
			in: `storageDir: /local/{clusterid}
serviceAccount: Flink_HA
mode: sometimes
enforcement: strict
exemptNamespaces: [OK]
`,
			err: `[storageDir: Invalid value: "/local/{clusterid}": unknown placeholder {clusterid}; use {namespace} and {clusterId}, ` +
				`storageDir: Invalid value: "/local/{clusterid}": must contain {clusterId}: clusters sharing one storageDir recover each other's jobs, ` +
				`storageDir: Invalid value: "/local/{clusterid}": "/local/{clusterid}" has no scheme, so Flink would write to each JobManager's local disk; use a URI like s3://<bucket>/flink/ha, ` +
				`serviceAccount: Invalid value: "Flink_HA": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*'), ` +
				`mode: Unsupported value: "sometimes": supported values: "all", "opt-in", ` +
				`enforcement: Unsupported value: "strict": supported values: "enforce", "warn", ` +
				`exemptNamespaces[0]: Invalid value: "OK": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')]`,
		},
		"an unquoted off is off, not YAML's false": {
			in:   "checkAccounts: off\n",
			want: &Policy{ServiceAccount: "flink-ha", Mode: ModeAll, Enforcement: Enforce, AllowOptOut: &yes, CheckAccounts: CheckOff},
		},
		"enforcement cannot be off": {
			in:  "enforcement: off\n",
			err: `enforcement: Unsupported value: "off": supported values: "enforce", "warn"`,
		},
		"the default account cannot be the injected one": {
			in:  "serviceAccount: default\n",
			err: `serviceAccount: Invalid value: "default": the default account is the one the webhook replaces; name a dedicated account`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse([]byte(tc.in))
			if tc.err != "" {
				assert.EqualError(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "policy.yaml")
	require.NoError(t, os.WriteFile(path, []byte("mode: never\n"), 0o600))
	_, err := Load(path)
	assert.EqualError(t, err, "policy "+path+`: mode: Unsupported value: "never": supported values: "all", "opt-in"`)
	_, err = Load(filepath.Join(t.TempDir(), "missing.yaml"))
	assert.ErrorContains(t, err, "reading the policy: open ")
}

func TestStorageDirFor(t *testing.T) {
	t.Parallel()
	p, err := Parse([]byte("storageDir: s3://ha/{namespace}/{clusterId}/\n"))
	require.NoError(t, err)
	assert.Equal(t, "s3://ha/team-a/orders/", p.StorageDirFor("team-a", "orders"))
	assert.Equal(t, "", Default().StorageDirFor("team-a", "orders"))
}

func TestDecide(t *testing.T) {
	t.Parallel()
	all, optIn, strict := Default(), Default(), Default()
	optIn.Mode = ModeOptIn
	no := false
	strict.AllowOptOut = &no
	cases := map[string]struct {
		p           *Policy
		annotations map[string]string
		haOn        bool
		want        Decision
		err         error
	}{
		"all: a cluster without HA is made HA":        {p: all, want: MakeHA},
		"all: opting out is honoured":                 {p: all, annotations: map[string]string{AnnotationHA: "off"}, want: Skip},
		"all: opting out where forbidden is an error": {p: strict, annotations: map[string]string{AnnotationHA: "off"}, want: MakeHA, err: ErrOptOutForbidden},
		"opt-in: a cluster without HA is left alone":  {p: optIn, want: Skip},
		"opt-in: a cluster with HA is completed":      {p: optIn, haOn: true, want: Complete},
		"opt-in: the annotation asks for HA":          {p: optIn, annotations: map[string]string{AnnotationHA: "on"}, want: MakeHA},
		"an unknown annotation value changes nothing": {p: optIn, annotations: map[string]string{AnnotationHA: "maybe"}, want: Skip},
	}
	for name, tc := range cases {
		got, err := tc.p.Decide(tc.annotations, tc.haOn)
		assert.Equal(t, tc.want, got, name)
		assert.Equal(t, tc.err, err, name)
	}
}

func TestTheInstalledPolicyIsValid(t *testing.T) {
	t.Parallel()
	_, err := Load("../manifests/policy.yaml")
	assert.NoError(t, err)
}

func TestExempt(t *testing.T) {
	t.Parallel()
	p, err := Parse([]byte("exemptNamespaces: [legacy, sandbox]\n"))
	require.NoError(t, err)
	cases := map[string]struct {
		namespace string
		want      bool
	}{
		"a listed namespace is left alone":            {"legacy", true},
		"every listed namespace is":                   {"sandbox", true},
		"a namespace not listed is not":               {"team", false},
		"a name that only starts like a listed one":   {"legacy-2", false},
		"the empty namespace of a cluster-wide kind":  {"", false},
		"namespaces are matched exactly, as RFC 1123": {"Legacy", false},
	}
	for name, tc := range cases {
		assert.Equal(t, tc.want, p.Exempt(tc.namespace), name)
	}
	assert.False(t, Default().Exempt("kube-system"), "the default policy exempts nothing")
}

func TestLoadOrDefault(t *testing.T) {
	t.Parallel()
	p, err := LoadOrDefault("")
	require.NoError(t, err)
	assert.Equal(t, Default(), p, "no file is the default policy")

	path := filepath.Join(t.TempDir(), "policy.yaml")
	require.NoError(t, os.WriteFile(path, []byte("mode: opt-in\n"), 0o600))
	p, err = LoadOrDefault(path)
	require.NoError(t, err)
	assert.Equal(t, ModeOptIn, p.Mode, "a file is read")

	_, err = LoadOrDefault(filepath.Join(t.TempDir(), "missing.yaml"))
	assert.ErrorContains(t, err, "reading the policy: open ", "a named file that is missing is an error, not the default")
}

func TestEnforcementSpellings(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		in   string
		want Enforcement
		err  string
	}{
		"YAML's false is off":           {in: "checkAccounts: false\n", want: CheckOff},
		"a quoted off is off":           {in: "checkAccounts: \"off\"\n", want: CheckOff},
		"true names no choice":          {in: "checkAccounts: true\n", err: `not a valid policy: true is not a choice here: write warn, enforce or off`},
		"an unquoted on is YAML's true": {in: "checkAccounts: on\n", err: `not a valid policy: true is not a choice here: write warn, enforce or off`},
		"a number is no choice":         {in: "checkAccounts: 1\n", err: `not a valid policy: json: cannot unmarshal number into Go struct field Policy.checkAccounts of type string`},
	}
	for name, tc := range cases {
		p, err := Parse([]byte(tc.in))
		if tc.err != "" {
			assert.EqualError(t, err, tc.err, name)
			continue
		}
		require.NoError(t, err, name)
		assert.Equal(t, tc.want, p.CheckAccounts, name)
	}
}

package nspolicy

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
)

const documents = `# the policy file
storageDir: s3://shared/{namespace}/{clusterId}
serviceAccount: flink-ha
---
apiVersion: flink-ha-webhook.io/v1alpha1
kind: FlinkHAPolicy
metadata: {name: team-a}
spec:
  namespaceSelector: {matchLabels: {team: a}}
  storageDir: s3://team-a/{clusterId}
  enforcement: warn
---
apiVersion: flink-ha-webhook.io/v1alpha1
kind: FlinkHAPolicy
metadata: {name: production}
spec:
  namespaceSelector: {matchExpressions: [{key: env, operator: In, values: [prod]}]}
  priority: 10
  storageDir: s3://prod/{namespace}/{clusterId}
  checkAccounts: off
---
apiVersion: flink-ha-webhook.io/v1alpha1
kind: FlinkHAPolicy
metadata: {name: also-team-a}
spec:
  namespaceSelector: {matchLabels: {team: a}}
  mode: opt-in
`

func TestFor(t *testing.T) {
	t.Parallel()
	s, err := Parse([]byte(documents))
	require.NoError(t, err)
	base, err := policy.Parse([]byte("storageDir: s3://shared/{namespace}/{clusterId}\nserviceAccount: flink-ha\n"))
	require.NoError(t, err)
	with := func(f func(p *policy.Policy)) *policy.Policy {
		p := *base
		f(&p)
		return &p
	}
	cases := map[string]struct {
		labels map[string]string
		from   string
		want   *policy.Policy
	}{
		"a namespace no policy selects gets the policy file": {labels: map[string]string{"team": "b"}, want: base},
		"of two equal policies the first by name applies, over the file's fields": {
			labels: map[string]string{"team": "a"}, from: "also-team-a",
			want: with(func(p *policy.Policy) { p.Mode = policy.ModeOptIn }),
		},
		"a higher priority wins, and what it leaves out comes from the file": {
			labels: map[string]string{"team": "a", "env": "prod"}, from: "production",
			want: with(func(p *policy.Policy) {
				p.StorageDir, p.CheckAccounts = "s3://prod/{namespace}/{clusterId}", policy.CheckOff
			}),
		},
	}
	for name, tc := range cases {
		got, from, err := s.For(tc.labels)
		require.NoError(t, err, name)
		assert.Equal(t, tc.from, from, name)
		assert.Equal(t, tc.want, got, name)
	}
}

func TestParseRefuses(t *testing.T) {
	t.Parallel()
	const head = "apiVersion: flink-ha-webhook.io/v1alpha1\nkind: FlinkHAPolicy\nmetadata: {name: x}\n"
	cases := map[string]struct{ in, err string }{
		"a storageDir every cluster shares": {
			in:  head + "spec:\n  namespaceSelector: {}\n  storageDir: s3://b/ha\n",
			err: `FlinkHAPolicy x: storageDir: Invalid value: "s3://b/ha": must contain {clusterId}: clusters sharing one storageDir recover each other's jobs`,
		},
		"a field FlinkHAPolicy does not have": {
			in:  head + "spec:\n  namespaceSelector: {}\n  exemptNamespaces: [a]\n",
			err: `FlinkHAPolicy x: unknown field "spec.exemptNamespaces"`,
		},
		"two policy file documents": {
			in:  "mode: all\n---\nmode: opt-in\n",
			err: "document 2: a second policy file document; keep one, and FlinkHAPolicies",
		},
		"another kind of object": {
			in:  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
			err: "document 1: v1 ConfigMap is not a policy; expected flink-ha-webhook.io/v1alpha1/FlinkHAPolicy",
		},
		"another version of FlinkHAPolicy": {
			in:  "apiVersion: flink-ha-webhook.io/v1\nkind: FlinkHAPolicy\nmetadata: {name: x}\n",
			err: "document 1: flink-ha-webhook.io/v1 FlinkHAPolicy is not a policy; expected flink-ha-webhook.io/v1alpha1/FlinkHAPolicy",
		},
		"a document that is not YAML": {
			in:  "mode: all\n---\nkind: [\n",
			err: "document 2: yaml: line 1: did not find expected node content",
		},
		"a key given twice": {
			in:  head + "spec:\n  namespaceSelector: {}\n  storageDir: s3://a/{clusterId}\n  storageDir: s3://b/{clusterId}\n",
			err: "document 1: yaml: unmarshal errors:\n  line 7: key \"storageDir\" already set in map",
		},
		"a document that is a list, not an object": {
			in:  "- mode: all\n",
			err: "document 1: json: cannot unmarshal array into Go value of type v1.TypeMeta",
		},
		"a field of the wrong type": {
			in:  head + "spec:\n  namespaceSelector: {}\n  priority: high\n",
			err: "document 1: json: cannot unmarshal string into Go struct field Spec.spec.priority of type int32",
		},
		"a policy file document the policy file would refuse": {
			in:  "mode: sometimes\n---\n" + head + "spec:\n  namespaceSelector: {}\n",
			err: `mode: Unsupported value: "sometimes": supported values: "all", "opt-in"`,
		},
		"a FlinkHAPolicy valid alone that makes the policy file invalid": {
			in:  "storageDir: s3://shared/{clusterId}\n---\n" + head + "spec:\n  namespaceSelector: {}\n  serviceAccount: default\n",
			err: `FlinkHAPolicy x: serviceAccount: Invalid value: "default": the default account is the one the webhook replaces; name a dedicated account`,
		},
	}
	for name, tc := range cases {
		_, err := Parse([]byte(tc.in))
		assert.EqualError(t, err, tc.err, name)
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	teamA := FlinkHAPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "flink-ha-webhook.io/v1alpha1", Kind: "FlinkHAPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: "team-a"},
		Spec: Spec{
			NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}},
			StorageDir:        "s3://team-a/{clusterId}",
		},
	}
	const teamADoc = "apiVersion: flink-ha-webhook.io/v1alpha1\nkind: FlinkHAPolicy\nmetadata: {name: team-a}\n" +
		"spec:\n  namespaceSelector: {matchLabels: {team: a}}\n  storageDir: s3://team-a/{clusterId}\n"
	file, err := policy.Parse([]byte("storageDir: s3://shared/{namespace}/{clusterId}\n"))
	require.NoError(t, err)
	cases := map[string]struct {
		in   string
		want *Set
	}{
		"nothing is the default policy and no FlinkHAPolicies": {in: "", want: &Set{Default: policy.Default()}},
		"empty documents and comments are skipped": {
			in:   "---\n# nothing here\n---\n" + teamADoc + "---\n",
			want: &Set{Default: policy.Default(), Policies: []FlinkHAPolicy{teamA}},
		},
		"FlinkHAPolicies without a policy file document override the default policy": {
			in: teamADoc, want: &Set{Default: policy.Default(), Policies: []FlinkHAPolicy{teamA}},
		},
		"the policy file document may come after the FlinkHAPolicies": {
			in: teamADoc + "---\nstorageDir: s3://shared/{namespace}/{clusterId}\n", want: &Set{Default: file, Policies: []FlinkHAPolicy{teamA}},
		},
	}
	for name, tc := range cases {
		got, err := Parse([]byte(tc.in))
		require.NoError(t, err, name)
		assert.Equal(t, tc.want, got, name)
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	require.NoError(t, os.WriteFile(good, []byte(documents), 0o600))
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("mode: all\n---\nmode: opt-in\n"), 0o600))
	parsed, err := Parse([]byte(documents))
	require.NoError(t, err)
	cases := map[string]struct {
		path string
		want *Set
		err  string
	}{
		"no path is the default policy":         {path: "", want: &Set{Default: policy.Default()}},
		"a file holds the policy documents":     {path: good, want: parsed},
		"a file that is not there is reported":  {path: filepath.Join(dir, "missing.yaml"), err: "reading the policy: open " + filepath.Join(dir, "missing.yaml") + ": no such file or directory"},
		"a file's problems name the file first": {path: bad, err: "policy " + bad + ": document 2: a second policy file document; keep one, and FlinkHAPolicies"},
	}
	for name, tc := range cases {
		got, err := Load(tc.path)
		if tc.err != "" {
			assert.EqualError(t, err, tc.err, name)
			assert.Nil(t, got, name)
			continue
		}
		require.NoError(t, err, name)
		assert.Equal(t, tc.want, got, name)
	}
}

func TestApply(t *testing.T) {
	t.Parallel()
	base, err := policy.Parse([]byte("storageDir: s3://shared/{namespace}/{clusterId}\nexemptNamespaces: [kube-system]\n"))
	require.NoError(t, err)
	no := false
	cases := map[string]struct {
		spec Spec
		want func(p *policy.Policy)
		err  string
	}{
		"an empty spec changes nothing": {want: func(*policy.Policy) {}},
		"every field a spec sets replaces the file's": {
			spec: Spec{StorageDir: "gs://team/{clusterId}", ServiceAccount: "team-flink", Mode: policy.ModeOptIn,
				Enforcement: policy.Warn, CheckAccounts: policy.CheckOff, AllowOptOut: &no},
			want: func(p *policy.Policy) {
				p.StorageDir, p.ServiceAccount, p.Mode = "gs://team/{clusterId}", "team-flink", policy.ModeOptIn
				p.Enforcement, p.CheckAccounts, p.AllowOptOut = policy.Warn, policy.CheckOff, &no
			},
		},
		"the result is checked as a policy file is, every problem at once": {
			spec: Spec{ServiceAccount: "default", Mode: "sometimes"},
			err: `[serviceAccount: Invalid value: "default": the default account is the one the webhook replaces; name a dedicated account, ` +
				`mode: Unsupported value: "sometimes": supported values: "all", "opt-in"]`,
		},
	}
	for name, tc := range cases {
		before := *base
		before.ExemptNamespaces = slices.Clone(base.ExemptNamespaces)
		got, err := tc.spec.Apply(base)
		assert.Equal(t, &before, base, "%s: the policy file is not changed", name)
		if tc.err != "" {
			assert.EqualError(t, err, tc.err, name)
			assert.Nil(t, got, name)
			continue
		}
		require.NoError(t, err, name)
		want := before
		want.ExemptNamespaces = slices.Clone(base.ExemptNamespaces)
		tc.want(&want)
		assert.Equal(t, &want, got, name)

		// What a namespace's policy holds is its own: changing it leaves
		// the policy file alone.
		got.ExemptNamespaces[0] = "changed"
		*got.AllowOptOut = !*got.AllowOptOut
		assert.Equal(t, []string{"kube-system"}, base.ExemptNamespaces, name)
		assert.True(t, *base.AllowOptOut, name)
	}
}

func TestForRefuses(t *testing.T) {
	t.Parallel()
	selectAll := metav1.LabelSelector{}
	cases := map[string]struct {
		policies []FlinkHAPolicy
		from     string
		err      string
	}{
		"a selector with an operator that does not exist": {
			policies: []FlinkHAPolicy{{ObjectMeta: metav1.ObjectMeta{Name: "odd"}, Spec: Spec{NamespaceSelector: metav1.LabelSelector{
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "team", Operator: "Maybe"}},
			}}}},
			from: "odd",
			err:  `FlinkHAPolicy odd: spec.namespaceSelector: "Maybe" is not a valid label selector operator`,
		},
		"the selected policy is invalid over the policy file": {
			policies: []FlinkHAPolicy{
				{ObjectMeta: metav1.ObjectMeta{Name: "loud"}, Spec: Spec{NamespaceSelector: selectAll, Priority: 1, Enforcement: "loud"}},
				{ObjectMeta: metav1.ObjectMeta{Name: "quiet"}, Spec: Spec{NamespaceSelector: selectAll, Enforcement: policy.Warn}},
			},
			from: "loud",
			err:  `FlinkHAPolicy loud: enforcement: Unsupported value: "loud": supported values: "enforce", "warn"`,
		},
	}
	for name, tc := range cases {
		s := &Set{Default: policy.Default(), Policies: tc.policies}
		got, from, err := s.For(map[string]string{"team": "a"})
		assert.EqualError(t, err, tc.err, name)
		assert.Equal(t, tc.from, from, name)
		assert.Nil(t, got, name)
	}
}

package nspolicy

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	}
	for name, tc := range cases {
		_, err := Parse([]byte(tc.in))
		assert.EqualError(t, err, tc.err, name)
	}
}

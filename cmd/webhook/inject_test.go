package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
)

// The golden manifests are the handler package's: inject must store and
// say exactly what the live webhooks do.
const (
	goldenDir       = "../../handler/testdata"
	goldenPolicy    = goldenDir + "/policy.yaml"
	goldenNamespace = "analytics"
)

func TestInjectMatchesTheWebhooks(t *testing.T) {
	p, err := policy.Load(goldenPolicy)
	require.NoError(t, err)
	ins, err := filepath.Glob(filepath.Join(goldenDir, "*.in.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, ins)
	for _, in := range ins {
		base := strings.TrimSuffix(in, ".in.yaml")
		t.Run(filepath.Base(base), func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(in)
			require.NoError(t, err)
			res, err := injectDocs(raw, p, goldenNamespace)
			require.NoError(t, err)
			out, messages := res.out, res.messages
			want, err := os.ReadFile(base + ".out.yaml")
			require.NoError(t, err)
			assert.Equal(t, string(want), string(out))
			review := ""
			if len(messages) > 0 {
				review = strings.Join(messages, "\n") + "\n"
			}
			want, err = os.ReadFile(base + ".review")
			require.NoError(t, err)
			assert.Equal(t, string(want), review)

			again, err := injectDocs(out, p, goldenNamespace)
			require.NoError(t, err)
			assert.Equal(t, string(out), string(again.out), "injecting the output again must change nothing")
			assert.Zero(t, again.changes, "a second pass must make no change")

			// The command prints the same, the messages on stderr, and exits
			// 1 where the API server would deny.
			outcome, err := os.ReadFile(base + ".outcome")
			require.NoError(t, err)
			wantCode := 0
			if strings.Contains(string(outcome), ": denied") {
				wantCode = 1
			}
			var stdout, stderr bytes.Buffer
			code := run([]string{"inject", "--policy", goldenPolicy, "--namespace", goldenNamespace, "-f", in}, nil, &stdout, &stderr)
			assert.Equal(t, wantCode, code, "exit status")
			assert.Equal(t, string(out), stdout.String())
			assert.Equal(t, review, stderr.String())
		})
	}
}

func TestInjectCommand(t *testing.T) {
	dir := t.TempDir()
	policyFile := goldenPolicy
	session, err := os.ReadFile(filepath.Join(goldenDir, "standalone-session.in.yaml"))
	require.NoError(t, err)
	zk, err := os.ReadFile(filepath.Join(goldenDir, "zookeeper.in.yaml"))
	require.NoError(t, err)

	var stdout, stderr bytes.Buffer
	code := run([]string{"inject", "--policy", policyFile, "--namespace", goldenNamespace, "-f", "-"}, bytes.NewReader(session), &stdout, &stderr)
	assert.Equal(t, 0, code, stderr.String())
	assert.Contains(t, stdout.String(), "high-availability.storageDir: s3://flink-ha/analytics/session")
	assert.Contains(t, stderr.String(), "Warning: data[flink-conf.yaml]: set high-availability.storageDir: s3://flink-ha/analytics/session")

	stdout.Reset()
	stderr.Reset()
	code = run([]string{"inject", "--policy", policyFile, "-f", "-"}, bytes.NewReader(zk), &stdout, &stderr)
	assert.Equal(t, 1, code, "a denial exits non-zero")
	assert.Contains(t, stderr.String(), `error: ConfigMap "flink-config" is invalid: data[flink-conf.yaml][high-availability.type]`)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.yaml"), session, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a manifest"), 0o600))
	stdout.Reset()
	stderr.Reset()
	code = run([]string{"inject", "-f", dir}, nil, &stdout, &stderr)
	assert.Equal(t, 1, code, "without a storageDir template the default policy denies: %s", stderr.String())
	assert.Contains(t, stderr.String(), "high-availability.storageDir]: Required value")

	stderr.Reset()
	assert.Equal(t, 2, run([]string{"inject", "-f", filepath.Join(dir, "missing.yaml")}, nil, &stdout, &stderr))
	assert.Contains(t, stderr.String(), "no such file or directory")

	stderr.Reset()
	assert.Equal(t, 2, run([]string{"inject", "-f", "-"}, strings.NewReader("a: [\n"), &stdout, &stderr))
	assert.Contains(t, stderr.String(), "document 1")

	stderr.Reset()
	badPolicy := filepath.Join(dir, "bad-policy.yaml")
	require.NoError(t, os.WriteFile(badPolicy, []byte("mode: sometimes\n"), 0o600))
	assert.Equal(t, 2, run([]string{"inject", "--policy", badPolicy}, strings.NewReader(""), &stdout, &stderr))
	assert.Contains(t, stderr.String(), `mode: Unsupported value: "sometimes"`)
}

func TestInjectRefusesCollisions(t *testing.T) {
	t.Parallel()
	configMap := func(name, ns, conf string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + name + ", namespace: " + ns + "}\ndata:\n  flink-conf.yaml: |\n" + indent(conf) + "---\n"
	}
	optedOut := func(name, ns, conf string) string {
		return strings.Replace(configMap(name, ns, conf), "metadata: {", "metadata: {annotations: {flink-ha-webhook/ha: \"off\"}, ", 1)
	}
	jobManager := func(name, configMap string) string {
		return `apiVersion: apps/v1
kind: Deployment
metadata: {name: ` + name + `, namespace: analytics}
spec:
  selector: {matchLabels: {app: ` + name + `}}
  template:
    metadata: {labels: {app: ` + name + `, component: jobmanager}}
    spec:
      containers:
      - {name: jobmanager, image: "flink:1.20", args: [jobmanager], volumeMounts: [{name: conf, mountPath: /opt/flink/conf}]}
      volumes:
      - {name: conf, configMap: {name: ` + configMap + `}}
---
`
	}
	const running = "kubernetes.cluster-id: CID\nhigh-availability.type: kubernetes\nhigh-availability.storageDir: s3://shared/ha\n"
	conf := func(cid string) string { return strings.ReplaceAll(running, "CID", cid) }
	golden, err := policy.Load(goldenPolicy)
	require.NoError(t, err)
	warn := *golden
	warn.Enforcement = policy.Warn

	cases := map[string]struct {
		in       string
		policy   *policy.Policy
		messages []string
		denied   bool
	}{
		"a ConfigMap and the JobManager mounting it are one cluster": {
			in: configMap("orders", "analytics", "kubernetes.cluster-id: orders\n") + jobManager("orders-jm", "orders"), policy: golden,
		},
		"clusters the policy's storageDir template tells apart do not collide": {
			in:     configMap("orders", "analytics", "kubernetes.cluster-id: orders\n") + configMap("billing", "analytics", "kubernetes.cluster-id: billing\n"),
			policy: golden,
		},
		"two clusters sharing a cluster-id in one namespace are refused, naming both": {
			in:     configMap("orders", "analytics", "kubernetes.cluster-id: orders\n") + configMap("orders-v2", "analytics", "kubernetes.cluster-id: orders\n"),
			policy: golden, denied: true,
			messages: []string{`error: ConfigMap/orders-v2 in namespace analytics and ConfigMap/orders in namespace analytics both use cluster-id "orders": ` +
				`two clusters with one cluster-id in a namespace fight over leadership and recover each other's jobs; ` +
				`give one of them another kubernetes.cluster-id (a FlinkDeployment's is its name)`,
				// The policy's template puts the cluster-id in the path: they share that too.
				`error: ConfigMap/orders-v2 in namespace analytics and ConfigMap/orders in namespace analytics both keep their HA data in ` +
					`s3://flink-ha/analytics/orders/orders: they overwrite each other's job graphs and checkpoint pointers; ` +
					`give each its own high-availability.storageDir or high-availability.cluster-id`},
		},
		"HA clusters the webhook leaves alone share /default without high-availability.cluster-id, even across namespaces": {
			in: optedOut("orders", "analytics", conf("orders")) + optedOut("billing", "finance", conf("billing")), policy: golden, denied: true,
			messages: []string{`error: ConfigMap/billing in namespace finance and ConfigMap/orders in namespace analytics both keep their HA data in s3://shared/ha/default: ` +
				`they overwrite each other's job graphs and checkpoint pointers; give each its own high-availability.storageDir or high-availability.cluster-id`},
		},
		"a warn-only policy warns about a collision and admits": {
			in: optedOut("a", "analytics", "kubernetes.cluster-id: x\n") + optedOut("b", "analytics", "kubernetes.cluster-id: x\n"), policy: &warn,
			messages: []string{`Warning: ConfigMap/b in namespace analytics and ConfigMap/a in namespace analytics both use cluster-id "x": ` +
				`two clusters with one cluster-id in a namespace fight over leadership and recover each other's jobs; ` +
				`give one of them another kubernetes.cluster-id (a FlinkDeployment's is its name)`},
		},
	}
	for name, tc := range cases {
		res, err := injectDocs([]byte(tc.in), tc.policy, goldenNamespace)
		require.NoError(t, err, name)
		var messages []string
		for _, m := range res.messages {
			if strings.Contains(m, " both ") { // the collisions, not the rules' own messages
				messages = append(messages, m)
			}
		}
		assert.Equal(t, tc.messages, messages, name)
		assert.Equal(t, tc.denied, res.denied, name)
	}
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if l != "" {
			b.WriteString("    " + l)
		}
	}
	return b.String()
}

func TestInjectReadsNamespacePolicies(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	policies := filepath.Join(dir, "policies.yaml")
	require.NoError(t, os.WriteFile(policies, []byte(`storageDir: s3://shared/{namespace}/{clusterId}
---
apiVersion: flink-ha-webhook.io/v1alpha1
kind: FlinkHAPolicy
metadata: {name: team-a}
spec:
  namespaceSelector: {matchLabels: {team: a}}
  storageDir: s3://team-a/{clusterId}
`), 0o600))
	in := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  flink-conf.yaml: |\n    kubernetes.cluster-id: orders\n"
	cases := map[string]struct {
		args []string
		want string
		code int
	}{
		"a namespace the policy selects gets its storageDir": {args: []string{"--namespace-labels", "team=a,env=prod"}, want: "s3://team-a/orders"},
		"other namespaces get the policy file's":             {args: []string{"--namespace-labels", "team=b"}, want: "s3://shared/default/orders"},
		"no labels select nothing":                           {want: "s3://shared/default/orders"},
		"labels that are not labels":                         {args: []string{"--namespace-labels", "team"}, code: 2},
	}
	for name, tc := range cases {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"inject", "--policy", policies, "-f", "-"}, tc.args...), strings.NewReader(in), &stdout, &stderr)
		assert.Equal(t, tc.code, code, "%s: %s", name, stderr.String())
		if tc.code == 0 {
			assert.Contains(t, stdout.String(), "high-availability.storageDir: "+tc.want+"\n", name)
		} else {
			assert.Contains(t, stderr.String(), `--namespace-labels "team": want k=v,k2=v2`, name)
		}
	}
}

// failingWriter is an output that cannot be written, as a closed pipe.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestInjectRefuses(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		args   []string
		in     string
		stdout io.Writer
		stderr string
	}{
		"a flag inject does not have": {
			args:   []string{"--context", "prod"},
			stderr: "flag provided but not defined: -context\nUsage of inject:\n",
		},
		"a document that is a list, not an object": {
			in:     "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n- kind: ConfigMap\n",
			stderr: "flink-ha-webhook: document 2: not a Kubernetes object: json: cannot unmarshal array into Go value of type v1.TypeMeta\n",
		},
		"an apiVersion that is not one": {
			in:     "apiVersion: apps/v1/beta\nkind: Deployment\nmetadata: {name: a}\n",
			stderr: "flink-ha-webhook: document 1: unexpected GroupVersion string: apps/v1/beta\n",
		},
		"output that cannot be written": {
			in:     "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
			stdout: failingWriter{},
		},
	}
	for name, tc := range cases {
		assertRefused(t, name, append([]string{"inject", "-f", "-"}, tc.args...), strings.NewReader(tc.in), tc.stdout, tc.stderr)
	}
}

// TestInjectUnderAWarnOnlyPolicy: what an enforcing policy denies, a
// warn-only one admits with warnings, and the exit status is 0.
func TestInjectUnderAWarnOnlyPolicy(t *testing.T) {
	t.Parallel()
	warn := filepath.Join(t.TempDir(), "policy.yaml")
	require.NoError(t, os.WriteFile(warn, []byte("storageDir: s3://flink-ha/{namespace}/{clusterId}\nenforcement: warn\n"), 0o600))
	in, err := os.ReadFile(filepath.Join(goldenDir, "zookeeper.in.yaml"))
	require.NoError(t, err)
	var stdout, stderr bytes.Buffer
	code := run([]string{"inject", "--policy", warn, "--namespace", goldenNamespace, "-f", "-"}, bytes.NewReader(in), &stdout, &stderr)
	assert.Equal(t, 0, code, stderr.String())
	assert.Equal(t, string(in), stdout.String(), "nothing changed")
	assert.Equal(t, `Warning: data[flink-conf.yaml][high-availability.type]: Invalid value: "zookeeper": this cluster's policy requires `+
		`Kubernetes HA: set high-availability.type: kubernetes (ZooKeeper state is not migrated), or annotate flink-ha-webhook/ha: "off"`+"\n",
		stderr.String())
}

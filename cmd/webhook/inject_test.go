package main

import (
	"bytes"
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

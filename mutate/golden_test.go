package mutate_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/flink-ha-webhook/flink-ha-webhook/mutate"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
	"github.com/flink-ha-webhook/flink-ha-webhook/validate"
)

var update = flag.Bool("update", false, "rewrite the golden files from the current output")

// testPolicy is the policy every golden case runs under: the handler
// package's golden policy.
func testPolicy(t *testing.T) *policy.Policy {
	p, err := policy.Load("../handler/testdata/policy.yaml")
	require.NoError(t, err)
	return p
}

// review renders what the rules say about an object, one line each.
func review(mutations, denials, warnings []string) string {
	var b strings.Builder
	for _, m := range mutations {
		b.WriteString("mutate: " + m + "\n")
	}
	for _, d := range denials {
		b.WriteString("deny: " + d + "\n")
	}
	for _, w := range warnings {
		b.WriteString("warn: " + w + "\n")
	}
	return b.String()
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "no golden file yet: run go test ./mutate -update")
	assert.Equal(t, string(want), string(got), path)
}

// TestConfigMapGolden runs testdata/configmap/NAME.in.yaml through the
// mutating rule and the validating rule, compares the stored object with
// NAME.out.yaml and what was said with NAME.review, and runs the rule again
// on its own output to see it change nothing.
func TestConfigMapGolden(t *testing.T) {
	p := testPolicy(t)
	ins, err := filepath.Glob("testdata/configmap/*.in.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, ins)
	for _, in := range ins {
		base := strings.TrimSuffix(in, ".in.yaml")
		t.Run(filepath.Base(base), func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(in)
			require.NoError(t, err)
			cm := &corev1.ConfigMap{}
			require.NoError(t, yaml.UnmarshalStrict(raw, cm))

			mutations := mutate.ConfigMap(cm, p).Warnings()
			for _, m := range mutations {
				assert.LessOrEqual(t, len([]rune(m)), mutate.MaxWarning, "warning too long: %s", m)
			}
			errs, warnings := validate.ConfigMap(cm, p)
			var denials []string
			for _, e := range errs {
				denials = append(denials, e.Error())
			}
			out, err := yaml.Marshal(cm)
			require.NoError(t, err)
			golden(t, base+".out.yaml", out)
			golden(t, base+".review", []byte(review(mutations, denials, warnings)))

			again := cm.DeepCopy()
			assert.Empty(t, mutate.ConfigMap(again, p).Changes, "a second pass must change nothing")
			assert.Equal(t, cm, again)
		})
	}
}

// TestNoStaleGolden: every golden file belongs to a case, and every case
// has both of its golden files, so a renamed or removed case cannot leave
// an output behind that nothing compares any more.
func TestNoStaleGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/configmap/*")
	require.NoError(t, err)
	parts := map[string][]string{}
	for _, f := range files {
		name := filepath.Base(f)
		for _, suffix := range []string{".in.yaml", ".out.yaml", ".review"} {
			if base, ok := strings.CutSuffix(name, suffix); ok {
				parts[base] = append(parts[base], suffix)
				name = ""
				break
			}
		}
		assert.Empty(t, name, "a file that is no part of a golden case")
	}
	for base, got := range parts {
		assert.ElementsMatch(t, []string{".in.yaml", ".out.yaml", ".review"}, got, "the golden case %s", base)
	}
}

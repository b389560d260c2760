package install

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
)

// TestChartAndManifestsAgreeOnDrainAndMemory holds the chart's Deployment to
// manifests/deployment.yaml where the webhook's reliability lives: the drain
// on SIGTERM and the grace period that covers it, the review limit and the
// memory measured for it.
func TestChartAndManifestsAgreeOnDrainAndMemory(t *testing.T) {
	rendered, err := helm(t, "template", "agree", chart, "--namespace", "agree", "--kube-version", kubeVersion(t))
	require.NoError(t, err, rendered)
	var got appsv1.Deployment
	require.NoError(t, decodeKind(rendered, "Deployment", &got))
	raw, err := os.ReadFile("../../manifests/deployment.yaml")
	require.NoError(t, err)
	var want appsv1.Deployment
	require.NoError(t, decodeKind(string(raw), "Deployment", &want))

	pick := func(d appsv1.Deployment) map[string]any {
		c := d.Spec.Template.Spec.Containers[0]
		flags := map[string]bool{}
		for _, a := range c.Args {
			for _, f := range []string{"--max-concurrent-reviews=", "--shutdown-delay=", "--shutdown-timeout="} {
				if len(a) > len(f) && a[:len(f)] == f {
					flags[a] = true
				}
			}
		}
		return map[string]any{
			"terminationGracePeriodSeconds": *d.Spec.Template.Spec.TerminationGracePeriodSeconds,
			"flags":                         flags,
			"env":                           c.Env,
			"resources":                     c.Resources,
		}
	}
	w := pick(want)
	assert.Equal(t, w, pick(got))
	assert.Equal(t, map[string]bool{"--max-concurrent-reviews=4": true, "--shutdown-delay=10s": true, "--shutdown-timeout=15s": true}, w["flags"])
	assert.Equal(t, int64(30), w["terminationGracePeriodSeconds"], "the delay, the reviews in flight and a margin")
}

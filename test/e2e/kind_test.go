package e2e

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/util/rand"
)

// TestKindChecksPassOnTheTestBed runs the checks of test/kind, which need
// Docker and kind where users run them, against this control plane and
// webhook: every manifest they apply and every result they expect is
// proven here.
func TestKindChecksPassOnTheTestBed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	flinkRoles(t) // the install's ClusterRoles of Flink's rights
	ns := "kind-checks-" + rand.String(5)
	t.Cleanup(func() { _, _, _ = plane.Kubectl(context.Background(), "", "delete", "namespace", ns, "--wait=false") })

	cmd := exec.CommandContext(ctx, "../kind/check.sh")
	cmd.Env = append(os.Environ(),
		"NAMESPACE="+ns,
		"KUBECONFIG="+plane.Kubeconfig,
		"PATH="+plane.Assets+string(os.PathListSeparator)+os.Getenv("PATH"), // the plane's kubectl first
	)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "All checks passed")
	t.Logf("%s", out)
}

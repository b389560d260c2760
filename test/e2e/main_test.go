package e2e

import (
	"fmt"
	"os"
	"testing"

	"github.com/flink-ha-webhook/flink-ha-webhook/test/controlplane"
)

// plane is shared by every test of the package; each test works in a
// namespace of its own. server is the real flink-ha-webhook binary serving
// the webhook configurations of manifests/webhook through real TLS.
var (
	plane      *controlplane.Plane
	server     *controlplane.WebhookServer
	webhookBin string
)

// testPolicy is the policy the webhook runs with in these tests.
const testPolicy = `storageDir: s3://flink-ha/{namespace}/{clusterId}
serviceAccount: flink-ha
`

func TestMain(m *testing.M) {
	os.Exit(controlplane.Run(m, controlplane.Options{
		ControllerManager:  true,
		CRDDirectories:     []string{"testdata/crds", "../../manifests/crds"},
		WebhookDirectories: []string{"../../manifests/webhook"},
	}, &plane, func(p *controlplane.Plane) (func(), error) {
		dir, err := os.MkdirTemp("", "flink-ha-webhook-e2e-")
		if err != nil {
			return nil, err
		}
		if webhookBin, err = controlplane.BuildWebhook(dir); err != nil {
			return nil, err
		}
		if server, err = p.ServeWebhook(webhookBin, testPolicy); err != nil {
			return nil, fmt.Errorf("starting the webhook: %w", err)
		}
		// server may be restarted by a test: stop whichever runs at the end.
		return func() { server.Stop(); os.RemoveAll(dir) }, nil
	}))
}

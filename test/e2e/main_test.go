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
	plane  *controlplane.Plane
	server *controlplane.WebhookServer
)

// testPolicy is the policy the webhook runs with in these tests.
const testPolicy = `storageDir: s3://flink-ha/{namespace}/{clusterId}
serviceAccount: flink-ha
`

func TestMain(m *testing.M) {
	os.Exit(controlplane.Run(m, controlplane.Options{
		ControllerManager:  true,
		CRDDirectories:     []string{"testdata/crds"},
		WebhookDirectories: []string{"../../manifests/webhook"},
	}, &plane, func(p *controlplane.Plane) (func(), error) {
		dir, err := os.MkdirTemp("", "flink-ha-webhook-e2e-")
		if err != nil {
			return nil, err
		}
		bin, err := controlplane.BuildWebhook(dir)
		if err != nil {
			return nil, err
		}
		s, err := p.ServeWebhook(bin, testPolicy)
		if err != nil {
			return nil, fmt.Errorf("starting the webhook: %w", err)
		}
		server = s
		return func() { s.Stop(); os.RemoveAll(dir) }, nil
	}))
}

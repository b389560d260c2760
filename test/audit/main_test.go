package audit_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/flink-ha-webhook/flink-ha-webhook/test/controlplane"
)

var (
	plane *controlplane.Plane
	bin   string
)

func TestMain(m *testing.M) {
	os.Exit(controlplane.Run(m, controlplane.Options{CRDDirectories: []string{"../e2e/testdata/crds", "testdata/crds"}}, &plane,
		func(p *controlplane.Plane) (func(), error) {
			dir, err := os.MkdirTemp("", "flink-ha-webhook-audit-")
			if err != nil {
				return nil, err
			}
			if bin, err = controlplane.BuildWebhook(dir); err != nil {
				return nil, fmt.Errorf("building the binary: %w", err)
			}
			return func() { os.RemoveAll(dir) }, nil
		}))
}

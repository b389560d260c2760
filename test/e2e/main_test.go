package e2e

import (
	"os"
	"testing"

	"github.com/flink-ha-webhook/flink-ha-webhook/test/controlplane"
)

// plane is shared by every test of the package; each test works in a
// namespace of its own.
var plane *controlplane.Plane

func TestMain(m *testing.M) {
	os.Exit(controlplane.Run(m, controlplane.Options{ControllerManager: true}, &plane))
}

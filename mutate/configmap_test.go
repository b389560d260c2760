package mutate_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/flink-ha-webhook/flink-ha-webhook/mutate"
)

// TestHAConfigMapsLoseOnlyOwnerReferences holds the promise the project
// makes about HA ConfigMaps: their data and annotations, where Flink keeps
// leadership and recovery pointers, are never changed.
func TestHAConfigMapsLoseOnlyOwnerReferences(t *testing.T) {
	p := testPolicy(t)
	ins, err := filepath.Glob("testdata/configmap/ha-*.in.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, ins)
	for _, in := range ins {
		raw, err := os.ReadFile(in)
		require.NoError(t, err)
		before := &corev1.ConfigMap{}
		require.NoError(t, yaml.UnmarshalStrict(raw, before))
		after := before.DeepCopy()
		mutate.ConfigMap(after, p)
		want := before.DeepCopy()
		want.OwnerReferences = nil
		assert.Equal(t, want, after, in)
	}
}

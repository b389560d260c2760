package controlplane

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStartReturnsTheErrorOfAPlaneThatFailsToStart: a start that fails
// after the processes came up stops them and says why, never panics.
func TestStartReturnsTheErrorOfAPlaneThatFailsToStart(t *testing.T) {
	p, err := Start(Options{CRDDirectories: []string{"testdata/no-such-directory"}})
	require.Error(t, err)
	assert.Nil(t, p)
	assert.Contains(t, err.Error(), "starting kube-apiserver and etcd")
	assert.Contains(t, err.Error(), "no-such-directory")
}

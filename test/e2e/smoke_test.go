package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestGarbageCollectionKeepsUnownedConfigMaps is the behaviour the whole
// project rests on, shown on the bare control plane: deleting a Deployment
// collects what it owns and keeps what nobody owns.
func TestGarbageCollectionKeepsUnownedConfigMaps(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns := plane.Namespace(t)
	kubectl := func(stdin string, args ...string) string {
		t.Helper()
		out, _, err := plane.Kubectl(ctx, stdin, append([]string{"--namespace", ns}, args...)...)
		require.NoError(t, err)
		return out
	}

	kubectl(`
apiVersion: apps/v1
kind: Deployment
metadata:
  name: flink-jobmanager
  labels: {app: flink, component: jobmanager}
spec:
  replicas: 1
  selector:
    matchLabels: {app: flink, component: jobmanager}
  template:
    metadata:
      labels: {app: flink, component: jobmanager}
    spec:
      containers:
      - name: jobmanager
        image: flink:1.20
        args: ["jobmanager"]
`, "apply", "-f", "-")

	uid := strings.TrimSpace(kubectl("", "get", "deployment", "flink-jobmanager", "-o", "jsonpath={.metadata.uid}"))
	require.NotEmpty(t, uid)
	kubectl(fmt.Sprintf(`
apiVersion: v1
kind: ConfigMap
metadata:
  name: owned
  ownerReferences:
  - apiVersion: apps/v1
    kind: Deployment
    name: flink-jobmanager
    uid: %s
data:
  k: owned
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: flink-cluster-config-map
data:
  checkpointID-0000000000000000042: pointer
  counter: "43"
`, uid), "apply", "-f", "-")

	// The deployment and replicaset controllers really make a Pod.
	require.Eventually(t, func() bool {
		out := kubectl("", "get", "pods", "-l", "component=jobmanager", "-o", "name")
		return strings.HasPrefix(out, "pod/flink-jobmanager-")
	}, time.Minute, 200*time.Millisecond, "the controllers created no Pod for the Deployment")

	kubectl("", "delete", "deployment", "flink-jobmanager", "--wait=true")

	cms := plane.Clientset.CoreV1().ConfigMaps(ns)
	require.Eventually(t, func() bool {
		_, err := cms.Get(ctx, "owned", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	}, time.Minute, 200*time.Millisecond, "the garbage collector left the owned ConfigMap")
	require.Eventually(t, func() bool {
		out := kubectl("", "get", "pods", "-l", "component=jobmanager", "-o", "name")
		return out == ""
	}, time.Minute, 200*time.Millisecond, "the garbage collector left the Deployment's Pods")

	kept, err := cms.Get(ctx, "flink-cluster-config-map", metav1.GetOptions{})
	require.NoError(t, err, "the unowned ConfigMap must survive")
	assert.Equal(t, map[string]string{"checkpointID-0000000000000000042": "pointer", "counter": "43"}, kept.Data)
}

package safetynet

import (
	"testing"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
)

func TestNeedsRemoval(t *testing.T) {
	t.Parallel()
	p, err := policy.Parse([]byte("exemptNamespaces: [legacy]\n"))
	if err != nil {
		t.Fatal(err)
	}
	owners := []metav1.OwnerReference{owner}
	cases := map[string]struct {
		meta metav1.ObjectMeta
		want bool
	}{
		"an owned HA ConfigMap":                 {metav1.ObjectMeta{Namespace: "team", Name: "orders-cluster-config-map", OwnerReferences: owners}, true},
		"an owned 1.12 leader ConfigMap":        {metav1.ObjectMeta{Namespace: "team", Name: "orders-dispatcher-leader", OwnerReferences: owners}, true},
		"an HA ConfigMap without owners":        {metav1.ObjectMeta{Namespace: "team", Name: "orders-cluster-config-map"}, false},
		"an owned ConfigMap that is not HA":     {metav1.ObjectMeta{Namespace: "team", Name: "flink-config-orders", OwnerReferences: owners}, false},
		"in an exempt namespace":                {metav1.ObjectMeta{Namespace: "legacy", Name: "orders-cluster-config-map", OwnerReferences: owners}, false},
		"in kube-system":                        {metav1.ObjectMeta{Namespace: "kube-system", Name: "x-cluster-config-map", OwnerReferences: owners}, false},
		"opted out":                             {metav1.ObjectMeta{Namespace: "team", Name: "orders-cluster-config-map", OwnerReferences: owners, Annotations: map[string]string{policy.AnnotationHA: "off"}}, false},
		"the autoscaler's state, named like HA": {metav1.ObjectMeta{Namespace: "team", Name: "autoscaler-x-cluster-config-map", OwnerReferences: owners, Labels: map[string]string{"component": "autoscaler"}}, false},
	}
	for name, tc := range cases {
		meta := tc.meta
		assert.Equal(t, tc.want, needsRemoval(&meta, p), name)
	}
}

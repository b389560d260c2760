package audit

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"

	"github.com/flink-ha-webhook/flink-ha-webhook/fleet"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
	"github.com/flink-ha-webhook/flink-ha-webhook/rights"
)

// fail makes the fake answer verb on resource with err.
func fail(f *clienttesting.Fake, verb, resource string, err error) {
	f.PrependReactor(verb, resource, func(clienttesting.Action) (bool, runtime.Object, error) { return true, nil, err })
}

func TestRunStopsAtWhatItCannotRead(t *testing.T) {
	t.Parallel()
	boom := errors.New("connection refused")
	cases := map[string]struct {
		failing func(*world)
		want    string
	}{
		"the ConfigMaps cannot be listed": {
			func(w *world) { fail(&w.metadata.Fake, "list", "configmaps", boom) },
			"listing ConfigMaps: connection refused"},
		"the Deployments cannot be listed": {
			func(w *world) { fail(&w.kube.Fake, "list", "deployments", boom) },
			"listing Deployments: connection refused"},
		"the StatefulSets cannot be listed": {
			func(w *world) { fail(&w.kube.Fake, "list", "statefulsets", boom) },
			"listing StatefulSets: connection refused"},
		"the Jobs cannot be listed": {
			func(w *world) { fail(&w.kube.Fake, "list", "jobs", boom) },
			"listing Jobs: connection refused"},
		"the FlinkDeployments cannot be listed": {
			func(w *world) { fail(&w.dynamic.Fake, "list", "flinkdeployments", boom) },
			"listing FlinkDeployments: connection refused"},
		"a JobManager's ConfigMap cannot be read": {
			func(w *world) { fail(&w.kube.Fake, "get", "configmaps", boom) },
			"reading ConfigMap orders-config in namespace team: connection refused"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, jobManager("team", "orders", haConf)+flinkDeployment)
			w.authorize(nil)
			tc.failing(w)
			got, err := Run(context.Background(), w.clients(), Options{Policy: policy.Default()})
			assert.EqualError(t, err, tc.want)
			assert.Nil(t, got)
		})
	}
}

// TestRunWithoutTheOperator: where the FlinkDeployment API is not
// installed, there are none, and the rest is audited.
func TestRunWithoutTheOperator(t *testing.T) {
	t.Parallel()
	for name, err := range map[string]error{
		"the API server knows no such resource":  apierrors.NewNotFound(FlinkDeployments.GroupResource(), ""),
		"the client's mapper knows no such kind": &meta.NoResourceMatchError{PartialResource: FlinkDeployments},
	} {
		w := newWorld(t, jobManager("team", "orders", haConf))
		w.authorize(map[string][]rights.Access{"team/flink": haRights})
		fail(&w.dynamic.Fake, "list", "flinkdeployments", err)
		got, err := Run(context.Background(), w.clients(), Options{Policy: policy.Default()})
		require.NoError(t, err, name)
		assert.Equal(t, &Report{Clusters: []Cluster{orders()}, Collisions: []fleet.Collision{}}, got, name)
	}
}

// TestRunAsksEachNamespaceItsPolicyOnce: with FlinkHAPolicies, each
// namespace is judged by its own policy, read once however many clusters
// it holds; a policy that cannot be read stops the audit.
func TestRunAsksEachNamespaceItsPolicyOnce(t *testing.T) {
	t.Parallel()
	noStorage := "kubernetes.cluster-id: orders\nhigh-availability.type: kubernetes"
	w := newWorld(t, jobManager("a", "orders", noStorage)+jobManager("a", "payments", strings.ReplaceAll(noStorage, "orders", "payments"))+
		jobManager("b", "orders", noStorage))
	w.authorize(map[string][]rights.Access{"a/flink": haRights, "b/flink": haRights})
	exempt, err := policy.Parse([]byte("exemptNamespaces: [b]\n"))
	require.NoError(t, err)
	asked := map[string]int{}
	got, err := Run(context.Background(), w.clients(), Options{PolicyFor: func(_ context.Context, ns string) (*policy.Policy, error) {
		asked[ns]++
		if ns == "b" {
			return exempt, nil
		}
		return policy.Default(), nil
	}})
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"a": 1, "b": 1}, asked)
	in := func(namespace, name string) func(*Cluster) {
		return func(c *Cluster) {
			c.Namespace, c.ClusterID, c.key = namespace, name, namespace+"/ConfigMap/"+name+"-config"
			c.Objects = []string{"Deployment/" + name + "-jobmanager", "ConfigMap/" + name + "-config"}
		}
	}
	denied := noStorageDir("deny")
	payments := func(c *Cluster) {
		denied(c)
		in("a", "payments")(c)
		c.Policy.Changes = []string{strings.ReplaceAll(c.Policy.Changes[0], "orders", "payments")}
		c.Policy.Violations = []string{strings.ReplaceAll(c.Policy.Violations[0], "orders", "payments")}
	}
	assert.Equal(t, &Report{Clusters: []Cluster{
		with(with(orders(), denied), in("a", "orders")),
		with(orders(), payments),
		with(with(orders(), in("b", "orders")), func(c *Cluster) {
			c.StorageDir, c.StoragePath = "", ""
			c.Policy = Verdict{Result: "exempt"}
		}),
	}, Collisions: []fleet.Collision{}, AtRisk: true}, got)

	_, err = Run(context.Background(), w.clients(), Options{PolicyFor: func(context.Context, string) (*policy.Policy, error) {
		return nil, errors.New(`FlinkHAPolicy "strict" and FlinkHAPolicy "loose" both select namespace a`)
	}})
	assert.EqualError(t, err, `the policy of namespace a: FlinkHAPolicy "strict" and FlinkHAPolicy "loose" both select namespace a`)
}

// TestRunReadsEachMountedConfigMapOnce: JobManagers that mount one
// configuration cost one read of it, and one that is missing is not asked
// for again.
func TestRunReadsEachMountedConfigMapOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t, jobManager("team", "orders", haConf)+asStatefulSet(onlyJobManager(jobManager("team", "orders", haConf)))+
		onlyJobManager(jobManager("team", "lost", haConf))+asStatefulSet(onlyJobManager(jobManager("team", "lost", haConf))))
	w.authorize(nil)
	_, err := Run(context.Background(), w.clients(), Options{Policy: policy.Default()})
	require.NoError(t, err)
	var gets []string
	for _, a := range w.kube.Actions() {
		if a.GetVerb() == "get" {
			gets = append(gets, a.GetResource().Resource+" "+a.(clienttesting.GetAction).GetName())
		}
	}
	assert.ElementsMatch(t, []string{"configmaps orders-config", "configmaps lost-config"}, gets)
}

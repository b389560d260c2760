package accounts

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/flink-ha-webhook/flink-ha-webhook/nspolicy"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
	"github.com/flink-ha-webhook/flink-ha-webhook/test/fakemanager"
)

// TestSetup starts the reconciler in a manager and sends it the event
// each of its watches exists for; the accounts and bindings stored
// afterwards are compared whole, and so is the list of kinds watched.
func TestSetup(t *testing.T) {
	t.Parallel()
	file, err := policy.Parse([]byte("serviceAccount: flink-ha\n"))
	require.NoError(t, err)
	const standaloneRole = "flink-ha-webhook:flink-standalone"
	gold := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team", Labels: map[string]string{"tier": "gold"}}}
	goldPolicy := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"name": "gold", "resourceVersion": "1"},
		"spec":     map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{"tier": "gold"}}, "serviceAccount": "team-flink"},
	}}
	goldPolicy.SetGroupVersionKind(nspolicy.GroupVersionKind)
	namespace := func(labels map[string]string) *metav1.PartialObjectMetadata {
		m := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: "team", Labels: labels}}
		m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
		return m
	}
	send := func(kind string, event func(toolscache.ResourceEventHandler)) func(*fakemanager.Cache) bool {
		return func(c *fakemanager.Cache) bool { return c.Informer(kind).Send(event) }
	}
	workloads := []string{"Deployment", "Job", "RoleBinding", "ServiceAccount", "StatefulSet"}
	live := []string{"Deployment", "FlinkHAPolicy", "Job", "Namespace (metadata)", "RoleBinding", "ServiceAccount", "StatefulSet"}
	formerAccount, formerBinding := accountNamed("flink-ha", ours), bindingOf("flink-ha", "flink-ha", standaloneRole, ours)
	cases := map[string]struct {
		crds         []schema.GroupVersionKind
		stored       []client.Object
		event        func(*fakemanager.Cache) bool
		watched      []string
		wantAccounts []string
		wantBindings []string
	}{
		"a Deployment made under the account makes it, bound; without their CRD FlinkDeployments are not watched": {
			stored:  []client.Object{deploymentUnder("jm", "flink-ha")},
			event:   send("Deployment", func(h toolscache.ResourceEventHandler) { h.OnAdd(deploymentUnder("jm", "flink-ha"), false) }),
			watched: workloads, wantAccounts: []string{"flink-ha"}, wantBindings: []string{"flink-ha"},
		},
		"with their CRD, a FlinkDeployment made under the account also binds native Flink's rights": {
			crds:    []schema.GroupVersionKind{FlinkDeploymentGVK},
			stored:  []client.Object{flinkDeployment("team", "flink-ha")},
			event:   send("FlinkDeployment", func(h toolscache.ResourceEventHandler) { h.OnAdd(flinkDeployment("team", "flink-ha"), false) }),
			watched: []string{"Deployment", "FlinkDeployment", "Job", "RoleBinding", "ServiceAccount", "StatefulSet"}, wantAccounts: []string{"flink-ha"}, wantBindings: []string{"flink-ha", "flink-ha-native"},
		},
		"a native JobManager made under the account also binds native Flink's rights": {
			stored:  []client.Object{cachedJobManager(t, "flink-ha", true)},
			event:   send("Deployment", func(h toolscache.ResourceEventHandler) { h.OnAdd(cachedJobManager(t, "flink-ha", true), false) }),
			watched: workloads, wantAccounts: []string{"flink-ha"}, wantBindings: []string{"flink-ha", "flink-ha-native"},
		},
		"a native JobManager deleted takes the native binding with it": {
			stored: []client.Object{accountNamed("flink-ha", ours), bindingOf("flink-ha", "flink-ha", standaloneRole, ours), bindingOf("flink-ha", "flink-ha-native", "flink-ha-webhook:flink-native", ours)},
			event: send("Deployment", func(h toolscache.ResourceEventHandler) {
				h.OnDelete(cachedJobManager(t, "flink-ha", true))
			}),
			watched: workloads, wantAccounts: []string{"flink-ha"}, wantBindings: []string{"flink-ha"},
		},
		"a deleted account of ours is made again": {
			stored:  []client.Object{deploymentUnder("jm", "flink-ha")},
			event:   send("ServiceAccount", func(h toolscache.ResourceEventHandler) { h.OnDelete(accountNamed("flink-ha", ours)) }),
			watched: workloads, wantAccounts: []string{"flink-ha"}, wantBindings: []string{"flink-ha"},
		},
		"a deleted binding of ours is made again at once": {
			stored: []client.Object{deploymentUnder("jm", "flink-ha"), accountNamed("flink-ha", ours)},
			event: send("RoleBinding", func(h toolscache.ResourceEventHandler) {
				h.OnDelete(bindingOf("flink-ha", "flink-ha", standaloneRole, ours))
			}),
			watched: workloads, wantAccounts: []string{"flink-ha"}, wantBindings: []string{"flink-ha"},
		},
		"under namespace policies, a FlinkHAPolicy naming another account: that account is made where a workload runs under it, and the former one goes": {
			crds:    []schema.GroupVersionKind{nspolicy.GroupVersionKind},
			stored:  []client.Object{gold, goldPolicy, deploymentUnder("jm", "team-flink"), formerAccount, formerBinding},
			event:   send("FlinkHAPolicy", func(h toolscache.ResourceEventHandler) { h.OnAdd(goldPolicy, false) }),
			watched: live, wantAccounts: []string{"team-flink"}, wantBindings: []string{"team-flink"},
		},
		"under namespace policies, a namespace labelled into a FlinkHAPolicy gets its account": {
			crds:   []schema.GroupVersionKind{nspolicy.GroupVersionKind},
			stored: []client.Object{gold, goldPolicy, deploymentUnder("jm", "team-flink"), formerAccount, formerBinding},
			event: send("Namespace (metadata)", func(h toolscache.ResourceEventHandler) {
				h.OnUpdate(namespace(nil), namespace(gold.Labels))
			}),
			watched: live, wantAccounts: []string{"team-flink"}, wantBindings: []string{"team-flink"},
		},
		"under namespace policies, the account the last workload ran under goes with it": {
			crds:    []schema.GroupVersionKind{nspolicy.GroupVersionKind},
			stored:  []client.Object{gold, goldPolicy, formerAccount, formerBinding},
			event:   send("Deployment", func(h toolscache.ResourceEventHandler) { h.OnDelete(deploymentUnder("jm", "flink-ha")) }),
			watched: live,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := fake.NewClientBuilder().WithScheme(testScheme(t)).WithObjects(copies(tc.stored)...).Build()
			mgr := fakemanager.New(t, c, tc.crds...)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			live, err := nspolicy.Setup(ctx, mgr, file)
			require.NoError(t, err)
			_, err = Setup(mgr, file, live, DefaultClusterRolePrefix)
			require.NoError(t, err)
			done := make(chan error)
			go func() { done <- mgr.Start(ctx) }()

			assert.Eventually(t, func() bool {
				if !tc.event(mgr.Cache) {
					return false
				}
				accounts, bindings, _ := names(t, c)
				return assert.ObjectsAreEqual(tc.wantAccounts, accounts) && assert.ObjectsAreEqual(tc.wantBindings, bindings)
			}, 20*time.Second, 10*time.Millisecond, "the accounts and bindings become what they must be")
			accounts, bindings, _ := names(t, c)
			assert.Equal(t, tc.wantAccounts, accounts, "accounts")
			assert.Equal(t, tc.wantBindings, bindings, "bindings")
			assert.Equal(t, tc.watched, mgr.Cache.Watched())
			cancel()
			require.NoError(t, <-done)
		})
	}
}

// TestFlinkDeploymentsWatchedOnceTheirCRDIsInstalled starts the reconciler
// where FlinkDeployments are not served, then has it watch them as serve
// does once their CRD appears: the running controller takes the watch,
// and a FlinkDeployment under the account makes it, bound to native
// Flink's rights too. Asked twice, it watches them once.
func TestFlinkDeploymentsWatchedOnceTheirCRDIsInstalled(t *testing.T) {
	t.Parallel()
	file, err := policy.Parse([]byte("serviceAccount: flink-ha\n"))
	require.NoError(t, err)
	c := fake.NewClientBuilder().WithScheme(testScheme(t)).WithObjects(flinkDeployment("team", "flink-ha")).Build()
	mgr := fakemanager.New(t, c)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reconciler, err := Setup(mgr, file, nil, DefaultClusterRolePrefix)
	require.NoError(t, err)
	done := make(chan error)
	go func() { done <- mgr.Start(ctx) }()

	workloads := []string{"Deployment", "Job", "RoleBinding", "ServiceAccount", "StatefulSet"}
	require.Eventually(t, func() bool { return assert.ObjectsAreEqual(workloads, mgr.Cache.Watched()) },
		20*time.Second, 10*time.Millisecond, "the controller runs, without FlinkDeployments")
	added := func(h toolscache.ResourceEventHandler) { h.OnAdd(flinkDeployment("team", "flink-ha"), false) }
	assert.False(t, mgr.Cache.Informer("FlinkDeployment").Send(added), "nothing watches FlinkDeployments yet")

	require.NoError(t, reconciler.WatchFlinkDeployments())
	require.NoError(t, reconciler.WatchFlinkDeployments())
	assert.Eventually(t, func() bool {
		if !mgr.Cache.Informer("FlinkDeployment").Send(added) {
			return false
		}
		accounts, bindings, _ := names(t, c)
		return assert.ObjectsAreEqual([]string{"flink-ha"}, accounts) && assert.ObjectsAreEqual([]string{"flink-ha", "flink-ha-native"}, bindings)
	}, 20*time.Second, 10*time.Millisecond, "the account and both bindings are made")
	assert.Equal(t, []string{"Deployment", "FlinkDeployment", "Job", "RoleBinding", "ServiceAccount", "StatefulSet"}, mgr.Cache.Watched())
	cancel()
	require.NoError(t, <-done)
}

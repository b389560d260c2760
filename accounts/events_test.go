package accounts

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
)

// TestEventsQueueNamespaces sends the handlers Setup watches with one
// event each and compares the namespaces queued, whole.
func TestEventsQueueNamespaces(t *testing.T) {
	t.Parallel()
	file, err := policy.Parse([]byte("serviceAccount: flink-ha\n"))
	require.NoError(t, err)
	namespace := func(labels map[string]string) *metav1.PartialObjectMetadata {
		return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: "team", Labels: labels}}
	}
	configMap := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "flink-config"}}
	const workloads, namespaces, bindings = "workloads", "namespaces", "bindings"
	const standaloneRole = "flink-ha-webhook:flink-standalone"
	team := []reconcile.Request{{NamespacedName: types.NamespacedName{Name: "team"}}} // a namespace, named as such
	cases := map[string]struct {
		live       bool
		unreadable bool // the namespace's policy cannot be read
		handler    string
		event      func(context.Context, handler.EventHandler, workqueue.TypedRateLimitingInterface[reconcile.Request])
		want       []reconcile.Request
	}{
		"a Deployment made under the policy's account queues its namespace": {
			handler: workloads, event: created(deploymentUnder("jm", "flink-ha")), want: team,
		},
		"a Deployment made under another account queues nothing": {
			handler: workloads, event: created(deploymentUnder("web", "web")),
		},
		"a FlinkDeployment made under the policy's account queues its namespace": {
			handler: workloads, event: created(flinkDeployment("team", "flink-ha")), want: team,
		},
		"under the policy file, a deleted Deployment under its account queues its namespace": {
			handler: workloads, event: deleted(deploymentUnder("jm", "flink-ha")), want: team,
		},
		"under the policy file, a deleted Deployment under another account queues nothing": {
			handler: workloads, event: deleted(deploymentUnder("jm", "old")),
		},
		"under namespace policies, a deleted workload under any named account queues its namespace": {
			live: true, handler: workloads, event: deleted(deploymentUnder("jm", "old")), want: team,
		},
		"under namespace policies, a deleted workload under no named account queues nothing": {
			live: true, handler: workloads, event: deleted(deploymentUnder("web", "")),
		},
		"under namespace policies, a Deployment made under the namespace's account queues its namespace": {
			live: true, handler: workloads, event: created(deploymentUnder("jm", "flink-ha")), want: team,
		},
		"a workload under a named account, where the namespace's policy cannot be read, queues its namespace for Reconcile to report": {
			live: true, unreadable: true, handler: workloads, event: created(deploymentUnder("jm", "old")), want: team,
		},
		"an object that runs no pods, where the namespace's policy cannot be read, queues nothing": {
			live: true, unreadable: true, handler: workloads, event: created(configMap),
		},
		"a Deployment whose status changed, under the same account, queues nothing": {
			handler: workloads, event: updated(deploymentUnder("jm", "flink-ha"), deploymentUnder("jm", "flink-ha")),
		},
		"a Deployment moved onto the policy's account queues its namespace": {
			handler: workloads, event: updated(deploymentUnder("jm", "web"), deploymentUnder("jm", "flink-ha")), want: team,
		},
		"a Deployment relabelled as a native JobManager, under the same account, queues its namespace": {
			handler: workloads, event: updated(cachedJobManager(t, "flink-ha", false), cachedJobManager(t, "flink-ha", true)), want: team,
		},
		"a native JobManager whose status changed queues nothing": {
			handler: workloads, event: updated(cachedJobManager(t, "flink-ha", true), cachedJobManager(t, "flink-ha", true)),
		},
		"a native JobManager deleted under the policy's account queues its namespace": {
			handler: workloads, event: deleted(cachedJobManager(t, "flink-ha", true)), want: team,
		},
		"a FlinkDeployment switched to standalone mode, under the same account, queues its namespace": {
			handler: workloads, event: updated(flinkDeployment("team", "flink-ha"), inMode(flinkDeployment("team", "flink-ha"), "standalone")), want: team,
		},
		"a FlinkDeployment the operator updated, under the same account, queues nothing": {
			handler: workloads, event: updated(flinkDeployment("team", "flink-ha"), flinkDeployment("team", "flink-ha")),
		},
		"a FlinkDeployment made with its JobManager key on the policy's account, beside another spec.serviceAccount, queues its namespace": {
			handler: workloads, event: created(withConf(flinkDeployment("team", "mine"), jmKey, "flink-ha")), want: team,
		},
		"a FlinkDeployment made with its TaskManager key on the policy's account queues its namespace": {
			handler: workloads, event: created(withConf(flinkDeployment("team", "mine"), tmKey, "flink-ha")), want: team,
		},
		"a FlinkDeployment whose JobManager key moved onto the policy's account queues its namespace": {
			handler: workloads, want: team,
			event: updated(withConf(flinkDeployment("team", "mine"), jmKey, "leader"), withConf(flinkDeployment("team", "mine"), jmKey, "flink-ha")),
		},
		"a FlinkDeployment whose JobManager key moved off the policy's account, under the same spec.serviceAccount, queues its namespace": {
			handler: workloads, event: updated(flinkDeployment("team", "flink-ha"), withConf(flinkDeployment("team", "flink-ha"), jmKey, "leader")), want: team,
		},
		"a FlinkDeployment whose TaskManager key changed, under the same spec.serviceAccount, queues its namespace": {
			handler: workloads, want: team,
			event: updated(withConf(flinkDeployment("team", "flink-ha"), tmKey, "workers"), withConf(flinkDeployment("team", "flink-ha"), tmKey, "others")),
		},
		"a FlinkDeployment whose other configuration changed queues nothing": {
			handler: workloads,
			event: updated(withConf(flinkDeployment("team", "flink-ha"), "taskmanager.numberOfTaskSlots", "2"),
				withConf(flinkDeployment("team", "flink-ha"), "taskmanager.numberOfTaskSlots", "4")),
		},
		"a FlinkDeployment whose role keys name other accounts queues nothing": {
			handler: workloads, event: created(withConf(withConf(flinkDeployment("team", "mine"), jmKey, "leader"), tmKey, "workers")),
		},
		"under namespace policies, a deleted FlinkDeployment that named an account only in its JobManager key queues its namespace": {
			live: true, handler: workloads, event: deleted(withConf(flinkDeployment("team", ""), jmKey, "old")), want: team,
		},
		"under namespace policies, a Deployment moved onto the namespace's account queues its namespace": {
			live: true, handler: workloads, event: updated(deploymentUnder("jm", ""), deploymentUnder("jm", "flink-ha")), want: team,
		},
		"a RoleBinding of ours deleted queues its namespace": {
			handler: bindings, event: deleted(bindingOf("flink-ha", "flink-ha", standaloneRole, ours)), want: team,
		},
		"a RoleBinding of ours changed queues its namespace": {
			handler: bindings, want: team,
			event: updated(bindingOf("flink-ha", "flink-ha", standaloneRole, ours), bindingOf("someone", "flink-ha", standaloneRole, ours)),
		},
		"a RoleBinding of ours made queues nothing: it is the reconciler's own": {
			handler: bindings, event: created(bindingOf("flink-ha", "flink-ha", standaloneRole, ours)),
		},
		"a namespace whose labels changed is queued": {
			live: true, handler: namespaces, want: team,
			event: updated(namespace(map[string]string{"tier": "gold"}), namespace(map[string]string{"tier": "strict"})),
		},
		"a namespace updated without a change of labels is not queued": {
			live: true, handler: namespaces,
			event: updated(namespace(map[string]string{"tier": "gold"}), namespace(map[string]string{"tier": "gold"})),
		},
		"a namespace made is not queued: it holds nothing yet": {
			live: true, handler: namespaces, event: created(namespace(nil)),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := &Reconciler{Policy: file}
			if tc.live {
				r.PolicyFor = func(context.Context, string) (*policy.Policy, error) {
					if tc.unreadable {
						return nil, errors.New("listing FlinkHAPolicies: timeout")
					}
					return file, nil
				}
			}
			h := r.workloadEvents(tc.live)
			switch tc.handler {
			case namespaces:
				h = relabelled
			case bindings:
				h = bindingEvents
			}
			q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
			defer q.ShutDown()
			tc.event(context.Background(), h, q)
			var got []reconcile.Request
			for q.Len() > 0 {
				req, _ := q.Get()
				got = append(got, req)
				q.Done(req)
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func created(o client.Object) func(context.Context, handler.EventHandler, workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	return func(ctx context.Context, h handler.EventHandler, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		h.Create(ctx, event.CreateEvent{Object: o}, q)
	}
}

func updated(old, new client.Object) func(context.Context, handler.EventHandler, workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	return func(ctx context.Context, h handler.EventHandler, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		h.Update(ctx, event.UpdateEvent{ObjectOld: old, ObjectNew: new}, q)
	}
}

func deleted(o client.Object) func(context.Context, handler.EventHandler, workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	return func(ctx context.Context, h handler.EventHandler, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		h.Delete(ctx, event.DeleteEvent{Object: o}, q)
	}
}

// TestRequestsNameTheirNamespace: a namespace queued by name and an event
// of our own ServiceAccount both reconcile the namespace they name.
func TestRequestsNameTheirNamespace(t *testing.T) {
	t.Parallel()
	file, err := policy.Parse([]byte("serviceAccount: flink-ha\n"))
	require.NoError(t, err)
	for name, req := range map[string]reconcile.Request{
		"a namespace queued by name":         {NamespacedName: types.NamespacedName{Name: "team"}},
		"an event of our own ServiceAccount": {NamespacedName: types.NamespacedName{Namespace: "team", Name: "flink-ha"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := fake.NewClientBuilder().WithScheme(testScheme(t)).Build()
			r := &Reconciler{Client: c, Reader: c, Policy: file, ClusterRolePrefix: DefaultClusterRolePrefix}
			res, err := r.reconcileRequest(context.Background(), req)
			require.NoError(t, err)
			assert.Equal(t, reconcile.Result{}, res)
			var sas corev1.ServiceAccountList
			require.NoError(t, c.List(context.Background(), &sas))
			var got []string
			for _, sa := range sas.Items {
				got = append(got, sa.Namespace+"/"+sa.Name)
			}
			assert.Equal(t, []string{"team/flink-ha"}, got)
		})
	}
}

// TestAPolicyChangeQueuesWhatItCan: a kind that cannot be listed does not
// keep the namespaces the other kinds name from being queued.
func TestAPolicyChangeQueuesWhatItCan(t *testing.T) {
	t.Parallel()
	file, err := policy.Parse([]byte("serviceAccount: flink-ha\n"))
	require.NoError(t, err)
	web := deploymentUnder("web", "flink-ha")
	web.Namespace = "web"
	old := accountNamed("flink-ha", ours)
	old.Namespace = "old"
	s := testScheme(t)
	c := interceptor.NewClient(fake.NewClientBuilder().WithScheme(s).WithObjects(web, old).Build(),
		refusing(t, s, refusal{op: "list StatefulSetList", err: errors.New("the API server is down")}))
	r := &Reconciler{Client: c, Reader: c, Policy: file}
	var got []string
	for _, req := range r.namespacesWithFlink(context.Background(), nil) {
		got = append(got, req.Name)
	}
	assert.ElementsMatch(t, []string{"web", "old"}, got)
}

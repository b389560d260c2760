package audit

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clienttesting "k8s.io/client-go/testing"

	"github.com/flink-ha-webhook/flink-ha-webhook/fleet"
	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
	"github.com/flink-ha-webhook/flink-ha-webhook/rights"
)

// haConf is a standalone configuration with Kubernetes HA complete.
const haConf = `kubernetes.cluster-id: orders
high-availability.type: kubernetes
high-availability.storageDir: s3://flink-ha/team/orders
high-availability.cluster-id: orders`

// jobManager is a standalone cluster: a ConfigMap <name>-config holding
// conf as flink-conf.yaml and a JobManager Deployment <name>-jobmanager
// mounting it, running under the account flink, that advertises its pod
// IP as HA needs.
func jobManager(namespace, name, conf string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata: {name: %[2]s-config, namespace: %[1]s}
data:
  flink-conf.yaml: |
    %[3]s
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: %[2]s-jobmanager, namespace: %[1]s}
spec:
  selector: {matchLabels: {app: %[2]s, component: jobmanager}}
  template:
    metadata: {labels: {app: %[2]s, component: jobmanager}}
    spec:
      serviceAccountName: flink
      containers:
      - name: jobmanager
        image: flink:1.18.1
        args: [jobmanager, $(POD_IP)]
        env:
        - name: POD_IP
          valueFrom: {fieldRef: {apiVersion: v1, fieldPath: status.podIP}}
        volumeMounts: [{name: conf, mountPath: /opt/flink/conf}]
      volumes:
      - {name: conf, configMap: {name: %[2]s-config}}
---
`, namespace, name, strings.ReplaceAll(conf, "\n", "\n    "))
}

// onlyJobManager is what jobManager makes but its ConfigMap.
func onlyJobManager(manifests string) string {
	_, jm, _ := strings.Cut(manifests, "---\n")
	return jm
}

// asStatefulSet makes the Deployments of manifests StatefulSets.
func asStatefulSet(manifests string) string {
	return strings.NewReplacer("kind: Deployment", "kind: StatefulSet", "spec:\n  selector", "spec:\n  serviceName: flink\n  selector").Replace(manifests)
}

// haConfigMap is the leader ConfigMap Flink writes for cluster-id cid,
// owned by owner ("Kind/name") unless that is empty.
func haConfigMap(cid, owner string) string {
	refs := ""
	if kind, name, ok := strings.Cut(owner, "/"); ok {
		refs = fmt.Sprintf("\n  ownerReferences: [{apiVersion: apps/v1, kind: %s, name: %s, uid: u1}]", kind, name)
	}
	return fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: %[1]s-cluster-config-map
  labels: {app: %[1]s, type: flink-native-kubernetes, configmap-type: high-availability}%[2]s
data: {counter: "3"}
---
`, cid, refs)
}

// orders is the cluster of jobManager("team", "orders", haConf) as the
// audit reports it when nothing is wrong.
func orders() Cluster {
	return Cluster{Namespace: "team", ClusterID: "orders", Mode: fleet.Standalone, FlinkVersion: "1.18", HA: fleet.HAOn,
		StorageDir: "s3://flink-ha/team/orders", StoragePath: "s3://flink-ha/team/orders/orders", Account: "flink", Rights: "yes",
		Objects: []string{"Deployment/orders-jobmanager", "ConfigMap/orders-config"}, Policy: Verdict{Result: "ok"}, key: "team/ConfigMap/orders-config"}
}

// with returns c changed by f, for the table's variations of orders.
func with(c Cluster, f func(*Cluster)) Cluster {
	f(&c)
	return c
}

// haRights are what an account may do in its namespace when bound to the
// Role the webhook makes for standalone clusters.
var haRights = rights.Grants(rights.Standalone, flinkconf.Supported)

// sharedConf keeps the HA data of every cluster "orders" in one place.
const sharedConf = `kubernetes.cluster-id: orders
high-availability.type: kubernetes
high-availability.storageDir: s3://flink-ha/shared
high-availability.cluster-id: orders`

// inShared is orders in namespace with sharedConf, at risk for risks.
func inShared(namespace string, risks []string) func(*Cluster) {
	return func(c *Cluster) {
		c.Namespace, c.key = namespace, namespace+"/ConfigMap/orders-config"
		c.StorageDir, c.StoragePath = "s3://flink-ha/shared", "s3://flink-ha/shared/orders"
		c.AtRisk = risks
	}
}

// flinkDeployment is a FlinkDeployment with Kubernetes HA complete.
const flinkDeployment = `apiVersion: flink.apache.org/v1beta1
kind: FlinkDeployment
metadata: {name: payments}
spec:
  image: flink:1.20
  flinkVersion: v1_20
  serviceAccount: flink
  flinkConfiguration:
    high-availability.type: kubernetes
    high-availability.storageDir: s3://flink-ha/team/payments
  jobManager: {resource: {memory: 2048m, cpu: 1}}
  taskManager: {resource: {memory: 2048m, cpu: 1}}
`

// noStorageDir is orders without a storageDir, judged as result.
func noStorageDir(result string) func(*Cluster) {
	return func(c *Cluster) {
		c.StorageDir, c.StoragePath = "", ""
		c.Policy = Verdict{Result: result, Changes: []string{
			"ConfigMap/orders-config data[flink-conf.yaml]: no high-availability.cluster-id added: the running HA state under <storageDir>/default would move"},
			Violations: []string{"ConfigMap/orders-config data[flink-conf.yaml][high-availability.storageDir]: Required value: Kubernetes HA keeps job graphs and " +
				"checkpoint pointers there: set high-availability.storageDir to a URI every JobManager can reach, such as s3://<bucket>/flink-ha/<cluster-id>"}}
		if result == "deny" {
			c.AtRisk = []string{RiskDenied}
		}
	}
}

// without is as without a.
func without(as []rights.Access, a rights.Access) []rights.Access {
	return slices.DeleteFunc(slices.Clone(as), func(x rights.Access) bool { return x == a })
}

func TestRun(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		manifests string
		policy    string
		namespace string
		// granted are the accounts' rights by namespace/name; nil: team/flink has haRights.
		granted map[string][]rights.Access
		// refuse makes every SubjectAccessReview fail, as for an audit
		// account that may not ask.
		refuse bool
		want   []Cluster
		// atRisk is the report's: the audit command exits 1 when it is set.
		atRisk bool
		// collisions are the report's; nil: none.
		collisions []fleet.Collision
		// asked is how many SubjectAccessReviews the audit makes.
		asked int
	}{
		"a compliant cluster is ok and at no risk": {
			manifests: jobManager("team", "orders", haConf) + haConfigMap("orders", ""),
			want:      []Cluster{with(orders(), func(c *Cluster) { c.HAConfigMaps = []HAConfigMap{{Name: "orders-cluster-config-map"}} })},
			asked:     len(haRights),
		},
		"no Flink objects: an empty report, at no risk": {
			manifests: `apiVersion: v1
kind: ConfigMap
metadata: {name: web-config}
data: {nginx.conf: "events {}"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: nginx, image: nginx:1.27}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: orders-taskmanager}
spec:
  selector: {matchLabels: {app: orders, component: taskmanager}}
  template:
    metadata: {labels: {app: orders, component: taskmanager}}
    spec:
      containers: [{name: taskmanager, image: "flink:1.18.1", args: [taskmanager]}]
`,
		},
		"an HA ConfigMap with an owner reference puts its cluster at risk": {
			manifests: jobManager("team", "orders", haConf) + haConfigMap("orders", "Deployment/orders-jobmanager"),
			want: []Cluster{with(orders(), func(c *Cluster) {
				c.HAConfigMaps = []HAConfigMap{{Name: "orders-cluster-config-map", Owners: []string{"Deployment/orders-jobmanager"}}}
				c.AtRisk = []string{RiskOwnedHAConfigMaps}
			})},
			atRisk: true,
			asked:  len(haRights),
		},
		"HA data whose cluster is gone is listed, at no risk while nothing owns it": {
			manifests: haConfigMap("gone", ""),
			want:      []Cluster{{Namespace: "team", ClusterID: "gone", HAConfigMaps: []HAConfigMap{{Name: "gone-cluster-config-map"}}, Policy: Verdict{Result: "none"}}},
		},
		"HA data whose cluster is gone is at risk when something owns it": {
			manifests: haConfigMap("gone", "Deployment/web"),
			want: []Cluster{{Namespace: "team", ClusterID: "gone", HAConfigMaps: []HAConfigMap{{Name: "gone-cluster-config-map", Owners: []string{"Deployment/web"}}},
				Policy: Verdict{Result: "none"}, AtRisk: []string{RiskOwnedHAConfigMaps}}},
			atRisk: true,
		},
		"a cluster without a storageDir is denied when the policy has none to give": {
			manifests: jobManager("team", "orders", "kubernetes.cluster-id: orders\nhigh-availability.type: kubernetes"),
			want:      []Cluster{with(orders(), noStorageDir("deny"))},
			atRisk:    true,
			asked:     len(haRights),
		},
		"a cluster without a storageDir is warned about under a warn-only policy, at no risk": {
			manifests: jobManager("team", "orders", "kubernetes.cluster-id: orders\nhigh-availability.type: kubernetes"),
			policy:    "enforcement: warn\n",
			want:      []Cluster{with(orders(), noStorageDir("warn"))},
			asked:     len(haRights),
		},
		"a cluster without a storageDir gets the policy's, a change at no risk": {
			manifests: jobManager("team", "orders", "kubernetes.cluster-id: orders\nhigh-availability.type: kubernetes"),
			policy:    "storageDir: s3://flink-ha/{namespace}/{clusterId}\n",
			want: []Cluster{with(orders(), func(c *Cluster) {
				c.StorageDir, c.StoragePath = "", ""
				c.Policy = Verdict{Result: "change", Changes: []string{
					"ConfigMap/orders-config data[flink-conf.yaml]: set high-availability.storageDir: s3://flink-ha/team/orders",
					"ConfigMap/orders-config data[flink-conf.yaml]: set high-availability.cluster-id: orders"}}
			})},
			asked: len(haRights),
		},
		"a standalone cluster without a cluster-id is denied, its HA data shared under /default": {
			manifests: jobManager("team", "orders", "high-availability.type: kubernetes\nhigh-availability.storageDir: s3://flink-ha/team/orders"),
			want: []Cluster{with(orders(), func(c *Cluster) {
				c.ClusterID, c.StoragePath = "", "s3://flink-ha/team/orders/default"
				c.Policy = Verdict{Result: "deny", Violations: []string{"ConfigMap/orders-config data[flink-conf.yaml][kubernetes.cluster-id]: Required value: " +
					"Kubernetes HA names its ConfigMaps after it: set kubernetes.cluster-id to a name unique in the namespace, such as the JobManager Deployment's"}}
				c.AtRisk = []string{RiskDenied}
			})},
			atRisk: true,
			asked:  len(haRights),
		},
		"a storageDir on the pod's own disk is a warning, not a risk": {
			manifests: jobManager("team", "orders", strings.Replace(haConf, "s3://flink-ha/team/orders", "file:///tmp/ha", 1)),
			want: []Cluster{with(orders(), func(c *Cluster) {
				c.StorageDir, c.StoragePath = "file:///tmp/ha", "file:///tmp/ha/orders"
				c.Policy.Warnings = []string{`ConfigMap/orders-config data[flink-conf.yaml][high-availability.storageDir]: storageDir "file:///tmp/ha" is local: ` +
					"HA works only if every JobManager mounts it from one shared volume"}
			})},
			asked: len(haRights),
		},
		"an exempt namespace's cluster is not judged": {
			manifests: jobManager("team", "orders", "kubernetes.cluster-id: orders\nhigh-availability.type: kubernetes"),
			policy:    "exemptNamespaces: [team]\n",
			want: []Cluster{with(orders(), func(c *Cluster) {
				c.StorageDir, c.StoragePath = "", ""
				c.Policy = Verdict{Result: "exempt"}
			})},
			asked: len(haRights),
		},
		"an account lacking one right is at risk, named with what it lacks": {
			manifests: jobManager("team", "orders", haConf),
			granted:   map[string][]rights.Access{"team/flink": without(haRights, rights.Access{Resource: "configmaps", Verb: "delete"})},
			want: []Cluster{with(orders(), func(c *Cluster) {
				c.Rights = "no: may not delete configmaps"
				c.AtRisk = []string{RiskRights}
			})},
			atRisk: true,
			asked:  len(haRights),
		},
		"an account with its rights in another namespace lacks them here": {
			manifests: jobManager("team", "orders", haConf),
			granted:   map[string][]rights.Access{"other/flink": haRights},
			want: []Cluster{with(orders(), func(c *Cluster) {
				c.Rights = "no: may not " + rights.Join(haRights)
				c.AtRisk = []string{RiskRights}
			})},
			atRisk: true,
			asked:  len(haRights),
		},
		"rights the audit may not ask about are unknown, not a risk": {
			manifests: jobManager("team", "orders", haConf),
			refuse:    true,
			want: []Cluster{with(orders(), func(c *Cluster) {
				c.Rights = "unknown: subjectaccessreviews.authorization.k8s.io is forbidden: the audit's account may not ask"
			})},
			asked: 1,
		},
		"a cluster without HA under an opt-in policy: nothing to judge, its account's rights not asked": {
			manifests: jobManager("team", "orders", "kubernetes.cluster-id: orders"),
			policy:    "mode: opt-in\n",
			want: []Cluster{with(orders(), func(c *Cluster) {
				c.HA, c.StorageDir, c.StoragePath, c.Rights = fleet.HAOff, "", "", ""
			})},
		},
		"HA keys that disagree between spellings put the cluster at risk, its rights not asked": {
			manifests: jobManager("team", "orders", haConf+"\nhigh-availability: zookeeper"),
			want: []Cluster{with(orders(), func(c *Cluster) {
				c.HA, c.Rights = fleet.HAConflicting, ""
				c.Policy = Verdict{Result: "deny", Violations: []string{`ConfigMap/orders-config data[flink-conf.yaml][high-availability]: Invalid value: "zookeeper": ` +
					`high-availability is "zookeeper" at data[flink-conf.yaml] line 5 but high-availability.type is "kubernetes" at data[flink-conf.yaml] line 2; ` +
					`Flink uses high-availability.type: remove high-availability`}}
				c.AtRisk = []string{RiskDenied, RiskConflicting}
			})},
			atRisk: true,
		},
		"one HA storage path in two namespaces is a collision, one cluster-id is not": {
			manifests: jobManager("a", "orders", sharedConf) + jobManager("b", "orders", sharedConf),
			granted:   map[string][]rights.Access{"a/flink": haRights, "b/flink": haRights},
			want: []Cluster{
				with(orders(), inShared("a", []string{RiskCollision})),
				with(orders(), inShared("b", []string{RiskCollision})),
			},
			collisions: []fleet.Collision{{Kind: fleet.SameStoragePath, Value: "s3://flink-ha/shared/orders",
				First: fleet.Ref{Namespace: "a", Object: "Deployment/orders-jobmanager"}, Second: fleet.Ref{Namespace: "b", Object: "Deployment/orders-jobmanager"}}},
			atRisk: true,
			asked:  2 * len(haRights),
		},
		"an audit of one namespace sees nothing of the others": {
			manifests: jobManager("a", "orders", sharedConf) + jobManager("b", "orders", sharedConf) + haConfigMap("orders", ""),
			namespace: "b",
			granted:   map[string][]rights.Access{"a/flink": haRights, "b/flink": haRights},
			want:      []Cluster{with(orders(), inShared("b", nil))},
			asked:     len(haRights),
		},
		"a JobManager whose ConfigMap is missing is a cluster of its own arguments": {
			manifests: onlyJobManager(jobManager("team", "orders", haConf)),
			policy:    "mode: opt-in\n",
			want: []Cluster{{Namespace: "team", Mode: fleet.Standalone, FlinkVersion: "1.18", HA: fleet.HAOff, Account: "flink",
				Objects: []string{"Deployment/orders-jobmanager"}, Policy: Verdict{Result: "ok"}, key: "team/ConfigMap/orders-config"}},
		},
		"a FlinkDeployment whose account may do what native HA needs": {
			manifests: flinkDeployment,
			granted:   map[string][]rights.Access{"team/flink": rights.Grants(rights.Native, flinkconf.Supported)},
			want: []Cluster{{Namespace: "team", ClusterID: "payments", Mode: fleet.Operator, FlinkVersion: "1.20", HA: fleet.HAOn,
				StorageDir: "s3://flink-ha/team/payments", StoragePath: "s3://flink-ha/team/payments/payments", Account: "flink", Rights: "yes",
				Objects: []string{"FlinkDeployment/payments"}, Policy: Verdict{Result: "ok"}, key: "team/native/payments"}},
			asked: len(rights.Needs(rights.Native, flinkconf.Exactly(flinkconf.Version{Major: 1, Minor: 20}))),
		},
		"a FlinkDeployment whose account may only do what standalone HA needs": {
			manifests: flinkDeployment,
			want: []Cluster{{Namespace: "team", ClusterID: "payments", Mode: fleet.Operator, FlinkVersion: "1.20", HA: fleet.HAOn,
				StorageDir: "s3://flink-ha/team/payments", StoragePath: "s3://flink-ha/team/payments/payments", Account: "flink",
				Rights:  "no: may not get pods, list pods, watch pods, create pods, delete pods, get deployments.apps, delete deployments.apps, update deployments/finalizers.apps",
				Objects: []string{"FlinkDeployment/payments"}, Policy: Verdict{Result: "ok"}, AtRisk: []string{RiskRights}, key: "team/native/payments"}},
			atRisk: true,
			asked:  len(rights.Needs(rights.Native, flinkconf.Exactly(flinkconf.Version{Major: 1, Minor: 20}))),
		},
		"rights granted to every account of the namespace are the account's": {
			manifests: jobManager("team", "orders", haConf),
			granted:   map[string][]rights.Access{"system:serviceaccounts:team": haRights},
			want:      []Cluster{orders()},
			asked:     len(haRights),
		},
		"one account in a standalone and a native cluster is asked about each mode's needs": {
			manifests: jobManager("team", "orders", haConf) + strings.NewReplacer("v1_20", "v1_18", "flink:1.20", "flink:1.18").Replace(flinkDeployment),
			want: []Cluster{orders(), {Namespace: "team", ClusterID: "payments", Mode: fleet.Operator, FlinkVersion: "1.18", HA: fleet.HAOn,
				StorageDir: "s3://flink-ha/team/payments", StoragePath: "s3://flink-ha/team/payments/payments", Account: "flink",
				Rights:  "no: may not get pods, list pods, watch pods, create pods, delete pods, get deployments.apps, delete deployments.apps, update deployments/finalizers.apps",
				Objects: []string{"FlinkDeployment/payments"}, Policy: Verdict{Result: "ok"}, AtRisk: []string{RiskRights}, key: "team/native/payments"}},
			atRisk: true,
			asked:  len(haRights) + len(rights.Needs(rights.Native, flinkconf.Exactly(flinkconf.V1_18))),
		},
		"a collision in another namespace leaves a cluster of the same names alone": {
			manifests: jobManager("team", "orders", haConf) + jobManager("b", "orders", sharedConf) + jobManager("b", "reports", sharedConf),
			granted:   map[string][]rights.Access{"team/flink": haRights, "b/flink": haRights},
			want: []Cluster{
				with(orders(), inShared("b", []string{RiskCollision})),
				with(orders(), func(c *Cluster) {
					inShared("b", []string{RiskCollision})(c)
					c.Objects, c.key = []string{"Deployment/reports-jobmanager", "ConfigMap/reports-config"}, "b/ConfigMap/reports-config"
				}),
				orders(),
			},
			collisions: []fleet.Collision{
				{Kind: fleet.SameClusterID, Value: "orders", First: fleet.Ref{Namespace: "b", Object: "Deployment/orders-jobmanager"},
					Second: fleet.Ref{Namespace: "b", Object: "Deployment/reports-jobmanager"}},
				{Kind: fleet.SameStoragePath, Value: "s3://flink-ha/shared/orders", First: fleet.Ref{Namespace: "b", Object: "Deployment/orders-jobmanager"},
					Second: fleet.Ref{Namespace: "b", Object: "Deployment/reports-jobmanager"}},
			},
			atRisk: true,
			asked:  2 * len(haRights),
		},
		"two JobManagers mounting one configuration are one cluster, its ConfigMap judged once": {
			manifests: jobManager("team", "orders", haConf) + asStatefulSet(onlyJobManager(jobManager("team", "orders", haConf))),
			want: []Cluster{with(orders(), func(c *Cluster) {
				c.Objects = []string{"Deployment/orders-jobmanager", "ConfigMap/orders-config", "StatefulSet/orders-jobmanager"}
			})},
			asked: len(haRights),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, tc.manifests)
			granted := tc.granted
			if granted == nil {
				granted = map[string][]rights.Access{"team/flink": haRights}
			}
			asked := w.authorize(granted)
			if tc.refuse {
				w.kube.PrependReactor("create", "subjectaccessreviews", func(clienttesting.Action) (bool, runtime.Object, error) {
					*asked++
					return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "authorization.k8s.io", Resource: "subjectaccessreviews"}, "",
						fmt.Errorf("the audit's account may not ask"))
				})
			}
			p, err := policy.Parse([]byte(tc.policy))
			require.NoError(t, err)
			got, err := Run(context.Background(), w.clients(), Options{Policy: p, Namespace: tc.namespace})
			require.NoError(t, err)
			want := &Report{AtRisk: tc.atRisk, Clusters: append([]Cluster{}, tc.want...), Collisions: append([]fleet.Collision{}, tc.collisions...)}
			assert.Equal(t, want, got)
			assert.Equal(t, tc.asked, *asked, "SubjectAccessReviews")
		})
	}
}

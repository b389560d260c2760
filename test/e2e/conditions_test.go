package e2e

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/yaml"

	"github.com/flink-ha-webhook/flink-ha-webhook/test/controlplane"
)

// ours matches every webhook of this project in controlplane.WebhookStats.
const ours = ".webhook.flink-ha"

// sentTo lists the webhooks of ours that calls reached, as "type/name".
func sentTo(calls controlplane.WebhookStats) []string {
	var to []string
	for k, v := range calls {
		if strings.HasSuffix(k.Name, ours) && v.Count > 0 {
			to = append(to, k.Type+"/"+k.Name)
		}
	}
	sort.Strings(to)
	return to
}

// quietClient is an admin client that does not log the webhook's warnings:
// they are not what these tests read.
func quietClient(t *testing.T) dynamic.Interface {
	config := rest.CopyConfig(plane.Config)
	config.WarningHandler = rest.NoWarnings{}
	client, err := dynamic.NewForConfig(config)
	require.NoError(t, err)
	return client
}

// recognisedSent is what sentTo should say for obj if the CEL conditions
// recognise what the Go recognition does.
func recognisedSent(t *testing.T, hooks webhookSet, obj *unstructured.Unstructured) []string {
	recognised := recognisedBy(t, obj)
	var want []string
	for _, name := range hooks.mutating {
		if recognised[name] {
			want = append(want, "admit/"+name)
		}
	}
	for _, name := range hooks.validating {
		if recognised[name] {
			want = append(want, "validating/"+name)
		}
	}
	sort.Strings(want)
	return want
}

// TestConditionsSendWhatTheGoldenCasesNeed applies every golden case
// through the real API server with the webhook configurations of
// manifests/webhook installed, and reads from the API server's own metrics
// which webhooks it called:
//   - every object the case says is changed reaches a mutating webhook,
//     every object it says is denied reaches a validating one;
//   - the CEL conditions send an object to a webhook exactly when the Go
//     package recognise makes it that webhook's business;
//   - updating a stored object with itself (an unchanged re-apply) calls
//     nothing, also when the object names an account of the user's
//     choosing; applying the manifest as written again (a merge patch)
//     calls only the mutating webhook, and only when the webhook had
//     changed it;
//   - the deployment controller's own updates call nothing.
func TestConditionsSendWhatTheGoldenCasesNeed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	client := quietClient(t)
	calls := func(f func()) controlplane.WebhookStats {
		t.Helper()
		before, err := plane.WebhookStats(ctx)
		require.NoError(t, err)
		f()
		after, err := plane.WebhookStats(ctx)
		require.NoError(t, err)
		return after.Since(before)
	}
	start, err := plane.WebhookStats(ctx)
	require.NoError(t, err)
	var updatesExpected float64 // UPDATE calls the steps below account for
	var deployments []*unstructured.Unstructured
	chosen := 0 // objects updated under an account of the user's choosing

	namespaces := map[string]string{}
	for _, o := range goldenObjects(t) {
		hooks, inRules := webhooksFor[o.In.GroupVersionKind().GroupKind()]
		if !inRules {
			assert.False(t, o.Changed || o.Denied, "%s: the webhook acts on it, but no webhook configuration sends its kind", o)
			continue
		}
		ns, ok := namespaces[o.Case]
		if !ok {
			ns = plane.Namespace(t)
			namespaces[o.Case] = ns
		}
		resource := client.Resource(hooks.resource).Namespace(ns)
		obj := o.In.DeepCopy()
		obj.SetNamespace(ns)

		var createErr error
		created := calls(func() { _, createErr = resource.Create(ctx, obj, metav1.CreateOptions{}) })
		sent := sentTo(created)
		if o.Changed {
			assert.NotZero(t, created.Sum(controlplane.WebhookCall{Name: ours, Type: "admit"}).Count,
				"%s: the webhook changes it, but the conditions did not send it to a mutating webhook (sent to %v)", o, sent)
		}
		if o.Denied {
			assert.NotZero(t, created.Sum(controlplane.WebhookCall{Name: ours, Type: "validating"}).Count,
				"%s: the webhook denies it, but the conditions did not send it to a validating webhook (sent to %v)", o, sent)
		}
		// Go and CEL recognise the same objects, webhook by webhook.
		assert.Equal(t, recognisedSent(t, hooks, o.In), sent, "%s: the webhooks the CEL conditions sent it to, against the Go recognition", o)

		if createErr != nil {
			continue // refused (the policy of these tests may differ from the cases'), so nothing to update
		}
		stored, err := resource.Get(ctx, obj.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) || err == nil && len(stored.GetOwnerReferences()) > 0 {
			continue // its owners do not exist here: the garbage collector takes it
		}
		require.NoError(t, err)
		again := calls(func() {
			err = retry.RetryOnConflict(retry.DefaultRetry, func() error { // a controller may update it meanwhile
				cur, err := resource.Get(ctx, obj.GetName(), metav1.GetOptions{})
				if err == nil {
					_, err = resource.Update(ctx, cur, metav1.UpdateOptions{})
				}
				return err
			})
		})
		require.NoError(t, err, "%s: updating it with itself", o)
		// The rights of an account of the user's choosing were checked
		// when the object was admitted: an unchanged update asks nothing.
		if hooks.account != nil && chosenAccount(hooks.account(stored)) {
			chosen++
		}
		assert.Empty(t, sentTo(again), "%s: an unchanged update must call no webhook", o)

		// As kubectl apply does, send what the manifest sets; what the
		// API server filled in (a Job's selector, defaults) and what a
		// merge keeps (keys of a map the manifest does not name) stay.
		asWritten, err := obj.MarshalJSON()
		require.NoError(t, err)
		storedJSON, err := stored.MarshalJSON()
		require.NoError(t, err)
		reapplied := calls(func() {
			_, err = resource.Patch(ctx, obj.GetName(), types.MergePatchType, asWritten, metav1.PatchOptions{})
		})
		require.NoError(t, err, "%s: applying the manifest as written again", o)
		mutated := reapplied.Sum(controlplane.WebhookCall{Name: ours, Type: "admit"}).Count
		if !o.Changed && !o.Exempt {
			assert.Zero(t, mutated, "%s: applying a manifest the webhook leaves alone again must call no mutating webhook", o)
		}
		assert.Zero(t, reapplied.Sum(controlplane.WebhookCall{Name: ours, Type: "validating"}).Count,
			"%s: once completed, the object is the one stored: no validating call (sent to %v)", o, sentTo(reapplied))
		after, err := resource.Get(ctx, obj.GetName(), metav1.GetOptions{})
		require.NoError(t, err)
		afterJSON, err := after.MarshalJSON()
		require.NoError(t, err)
		// Had the conditions skipped a re-apply that undoes the webhook's
		// work, the stored object would have lost it.
		assert.Equal(t, readByRules(t, storedJSON), readByRules(t, afterJSON), "%s: the re-apply lost what the webhook had made of it", o)
		updatesExpected += again.Sum(controlplane.WebhookCall{Name: ours}).Count + reapplied.Sum(controlplane.WebhookCall{Name: ours}).Count
		if o.In.GetKind() == "Deployment" {
			deployments = append(deployments, stored)
		}
	}

	// The deployment controller records each Deployment's revision in an
	// annotation of the Deployment itself, an UPDATE that the webhooks
	// must not be asked about.
	require.NotEmpty(t, deployments, "the golden cases have Deployments the webhook admits")
	assert.NotZero(t, chosen, "the golden cases have objects under an account of the user's choosing, updated unchanged")
	for _, d := range deployments {
		require.Eventually(t, func() bool {
			got, err := client.Resource(webhooksFor[d.GroupVersionKind().GroupKind()].resource).Namespace(d.GetNamespace()).Get(ctx, d.GetName(), metav1.GetOptions{})
			return err == nil && got.GetAnnotations()["deployment.kubernetes.io/revision"] != ""
		}, time.Minute, 100*time.Millisecond, "the deployment controller did not update Deployment %s/%s", d.GetNamespace(), d.GetName())
	}
	end, err := plane.WebhookStats(ctx)
	require.NoError(t, err)
	updates := end.Since(start).Sum(controlplane.WebhookCall{Name: ours, Operation: "UPDATE"}).Count
	assert.Equal(t, updatesExpected, updates, "UPDATE calls beyond the test's own: a controller's update reached a webhook")
}

// readByRules is what the webhook's rules read of an object: its content
// (data or spec), labels, owner references and flink-ha-webhook/
// annotations.
func readByRules(t *testing.T, js []byte) map[string]any {
	var o struct {
		Data     any `json:"data"`
		Spec     any `json:"spec"`
		Metadata struct {
			Labels          map[string]string `json:"labels"`
			Annotations     map[string]string `json:"annotations"`
			OwnerReferences any               `json:"ownerReferences"`
		} `json:"metadata"`
	}
	require.NoError(t, json.Unmarshal(js, &o))
	ours := map[string]string{}
	for k, v := range o.Metadata.Annotations {
		if strings.HasPrefix(k, "flink-ha-webhook/") {
			ours[k] = v
		}
	}
	return map[string]any{"data": o.Data, "spec": o.Spec, "labels": o.Metadata.Labels, "owners": o.Metadata.OwnerReferences, "annotations": ours}
}

// recognitionCases are objects beyond the golden cases, one per branch of
// the recognition, and the shapes where a text search could part from the
// Go parser.
var recognitionCases = map[string]string{
	"config.yaml beside log4j-console.properties": `{apiVersion: v1, kind: ConfigMap, metadata: {name: conf},
    data: {config.yaml: "a: b\n", log4j-console.properties: ""}}`,
	"config.yaml beside logback-console.xml": `{apiVersion: v1, kind: ConfigMap, metadata: {name: conf},
    data: {config.yaml: "a: b\n", logback-console.xml: ""}}`,
	"config.yaml in a native configuration by label": `{apiVersion: v1, kind: ConfigMap, metadata: {name: conf, labels: {type: flink-native-kubernetes}},
    data: {config.yaml: "a: b\n"}}`,
	"config.yaml with nested Flink keys": `{apiVersion: v1, kind: ConfigMap, metadata: {name: conf},
    data: {config.yaml: "env:\n  java:\n    opts: x\nstate:\n  savepoints.dir: s3://b/sp\n  checkpoints:\n    dir: s3://b/cp\n"}}`,
	"config.yaml with only kubernetes keys of another product": `{apiVersion: v1, kind: ConfigMap, metadata: {name: conf},
    data: {config.yaml: "kubernetes:\n  namespace: apps\n  inCluster: true\nstate: {path: /data}\n"}}`,
	"config.yaml as one line of JSON": `{apiVersion: v1, kind: ConfigMap, metadata: {name: conf},
    data: {config.yaml: "{\"parallelism.default\": 2, \"rest.port\": 8081}"}}`,
	"config.yaml that mentions Flink words only in values": `{apiVersion: v1, kind: ConfigMap, metadata: {name: conf},
    data: {config.yaml: "job: jobmanager\nnote: 'high-availability is on'\n"}}`,
	"config.yaml that is not YAML": `{apiVersion: v1, kind: ConfigMap, metadata: {name: conf}, data: {config.yaml: "a: [\n"}}`,
	"an HA ConfigMap known by its labels alone": `{apiVersion: v1, kind: ConfigMap,
    metadata: {name: orders-ha-state, labels: {app: orders, type: flink-native-kubernetes, configmap-type: high-availability},
      ownerReferences: [{apiVersion: v1, kind: ConfigMap, name: x, uid: 00000000-0000-0000-0000-000000000001}]}}`,
	"a 1.12 leader ConfigMap": `{apiVersion: v1, kind: ConfigMap,
    metadata: {name: orders-dispatcher-leader, ownerReferences: [{apiVersion: v1, kind: ConfigMap, name: x, uid: 00000000-0000-0000-0000-000000000001}]}}`,
	"an HA name around a cluster-id Flink cannot have": `{apiVersion: v1, kind: ConfigMap,
    metadata: {name: my.app-cluster-config-map, ownerReferences: [{apiVersion: v1, kind: ConfigMap, name: x, uid: 00000000-0000-0000-0000-000000000001}]}}`,
	"an HA name around a cluster-id of 46 characters": `{apiVersion: v1, kind: ConfigMap,
    metadata: {name: a123456789012345678901234567890123456789012345-cluster-config-map,
      ownerReferences: [{apiVersion: v1, kind: ConfigMap, name: x, uid: 00000000-0000-0000-0000-000000000001}]}}`,
	"an application JobManager by its entrypoint alone": `{apiVersion: apps/v1, kind: Deployment, metadata: {name: app},
    spec: {selector: {matchLabels: {app: x}}, template: {metadata: {labels: {app: x}},
      spec: {containers: [{name: sidecar, image: envoy}, {name: main, image: registry.example/jobs/wc:2, args: [standalone-job]}]}}}}`,
	"the component label of the object, on a container named for the role": `{apiVersion: apps/v1, kind: StatefulSet,
    metadata: {name: tm, labels: {component: taskmanager}},
    spec: {serviceName: tm, selector: {matchLabels: {app: x}}, template: {metadata: {labels: {app: x}},
      spec: {containers: [{name: taskmanager, image: internal/runtime:7}]}}}}`,
	"the template's component label wins over the object's": `{apiVersion: apps/v1, kind: Deployment,
    metadata: {name: web, labels: {component: jobmanager}},
    spec: {selector: {matchLabels: {app: x}}, template: {metadata: {labels: {app: x, component: web}},
      spec: {containers: [{name: jobmanager, image: flink:1.20}]}}}}`,
	"a labelled flink-main-container": `{apiVersion: apps/v1, kind: Deployment, metadata: {name: native},
    spec: {selector: {matchLabels: {app: x}}, template: {metadata: {labels: {app: x, component: jobmanager}},
      spec: {containers: [{name: flink-main-container, image: internal/runtime:7}]}}}}`,
	"a Flink image from a registry with a port and a digest": `{apiVersion: batch/v1, kind: Job, metadata: {name: j},
    spec: {template: {metadata: {labels: {component: jobmanager}},
      spec: {restartPolicy: Never, containers: [{name: jm, image: "registry:5000/apache/flink:1.20@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}]}}}}`,
	"a registry host named flink does not make nginx Flink": `{apiVersion: apps/v1, kind: Deployment, metadata: {name: web},
    spec: {selector: {matchLabels: {app: x}}, template: {metadata: {labels: {app: x, component: jobmanager}},
      spec: {containers: [{name: web, image: "flink.registry:5000/nginx:1.27"}]}}}}`,
	"a tag named flink does not make nginx Flink": `{apiVersion: apps/v1, kind: Deployment, metadata: {name: web},
    spec: {selector: {matchLabels: {app: x}}, template: {metadata: {labels: {app: x, component: taskmanager}},
      spec: {containers: [{name: web, image: "nginx:flink"}]}}}}`,
	"an image without a registry whose name has a dot": `{apiVersion: apps/v1, kind: Deployment, metadata: {name: jm},
    spec: {selector: {matchLabels: {app: x}}, template: {metadata: {labels: {app: x, component: jobmanager}},
      spec: {containers: [{name: jm, image: "my.flink:1"}]}}}}`,
}

// TestConditionsRecogniseAsGoDoes sends each of recognitionCases to the
// real API server (a dry run) and compares the webhooks its CEL
// conditions called with the Go recognition.
func TestConditionsRecogniseAsGoDoes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	client := quietClient(t)
	ns := plane.Namespace(t)
	for name, manifest := range recognitionCases {
		js, err := yaml.YAMLToJSON([]byte(manifest))
		require.NoError(t, err, name)
		obj := &unstructured.Unstructured{}
		require.NoError(t, obj.UnmarshalJSON(js), name)
		hooks, ok := webhooksFor[obj.GroupVersionKind().GroupKind()]
		require.True(t, ok, name)
		before, err := plane.WebhookStats(ctx)
		require.NoError(t, err)
		_, err = client.Resource(hooks.resource).Namespace(ns).Create(ctx, obj, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			require.Contains(t, err.Error(), "denied the request", "%s: refused, but not by the webhook", name)
		}
		after, err := plane.WebhookStats(ctx)
		require.NoError(t, err)
		assert.Equal(t, recognisedSent(t, hooks, obj), sentTo(after.Since(before)), name)
	}
}

// chosenAccount says whether account is one of the user's choosing: not
// left empty or default, not the policy's account.
func chosenAccount(account string) bool {
	return account != "" && account != "default" && account != "flink-ha"
}

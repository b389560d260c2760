package main

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"
)

var (
	configMaps       = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	deployments      = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	flinkDeployments = schema.GroupVersionResource{Group: "flink.apache.org", Version: "v1beta1", Resource: "flinkdeployments"}
)

// manifest is one object of the workload as its user writes it.
type manifest struct {
	resource schema.GroupVersionResource
	object   *unstructured.Unstructured
}

// The workload: a Flink cluster's configuration (with a cluster-id,
// without HA: the webhook completes it), its JobManager Deployment, and a
// FlinkDeployment (the operator's basic example). The Deployments run no
// pods: the controller manager's client, at 20 requests a second, would
// fall minutes behind creating them, loading the API server during later
// rounds with work that is no webhook's business.
const (
	configMapYAML = `apiVersion: v1
kind: ConfigMap
metadata: {name: flink-config-%[1]d, labels: {app: flink-%[1]d}}
data:
  flink-conf.yaml: |
    jobmanager.rpc.address: flink-%[1]d-jobmanager
    kubernetes.cluster-id: flink-%[1]d
    taskmanager.numberOfTaskSlots: 2
    parallelism.default: 2
  log4j-console.properties: |
    rootLogger.level = INFO
`
	deploymentYAML = `apiVersion: apps/v1
kind: Deployment
metadata: {name: flink-%[1]d-jobmanager}
spec:
  replicas: 0
  selector: {matchLabels: {app: flink-%[1]d, component: jobmanager}}
  template:
    metadata: {labels: {app: flink-%[1]d, component: jobmanager}}
    spec:
      containers:
      - name: jobmanager
        image: flink:1.20
        args: [jobmanager]
        ports: [{containerPort: 6123, name: rpc}, {containerPort: 8081, name: webui}]
        volumeMounts: [{name: flink-config-volume, mountPath: /opt/flink/conf}]
      volumes:
      - {name: flink-config-volume, configMap: {name: flink-config-%[1]d}}
`
	flinkDeploymentYAML = `apiVersion: flink.apache.org/v1beta1
kind: FlinkDeployment
metadata: {name: basic-%[1]d}
spec:
  image: flink:1.20
  flinkVersion: v1_20
  flinkConfiguration: {taskmanager.numberOfTaskSlots: "2"}
  serviceAccount: flink
  jobManager: {resource: {memory: "2048m", cpu: 1}}
  taskManager: {resource: {memory: "2048m", cpu: 1}}
  job: {jarURI: "local:///opt/flink/examples/streaming/StateMachineExample.jar", parallelism: 2, upgradeMode: last-state}
`
)

// workload returns n objects: configuration, JobManager and
// FlinkDeployment in turn.
func workload(n int) ([]manifest, error) {
	kinds := []struct {
		yaml     string
		resource schema.GroupVersionResource
	}{{configMapYAML, configMaps}, {deploymentYAML, deployments}, {flinkDeploymentYAML, flinkDeployments}}
	out := make([]manifest, 0, n)
	for i := 0; len(out) < n; i++ {
		k := kinds[i%len(kinds)]
		js, err := yaml.YAMLToJSON(fmt.Appendf(nil, k.yaml, i/len(kinds)))
		if err != nil {
			return nil, err
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(js); err != nil {
			return nil, err
		}
		out = append(out, manifest{resource: k.resource, object: u})
	}
	return out, nil
}

// create creates every object in namespace ns from clients goroutines,
// each taking the next object, and returns each create's latency.
func create(ctx context.Context, client dynamic.Interface, ns string, objects []manifest, clients int) ([]time.Duration, error) {
	latencies := make([]time.Duration, len(objects))
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(objects) || ctx.Err() != nil {
					return
				}
				m := objects[i]
				obj := m.object.DeepCopy()
				obj.SetNamespace(ns)
				start := time.Now()
				_, err := client.Resource(m.resource).Namespace(ns).Create(ctx, obj, metav1.CreateOptions{})
				latencies[i] = time.Since(start)
				if err != nil {
					errs <- fmt.Errorf("creating %s %s/%s: %w", obj.GetKind(), ns, obj.GetName(), err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return latencies, ctx.Err()
}

// summary is the distribution of a set of latencies.
type summary struct {
	n              int
	mean, p50, p99 time.Duration
}

func summarise(ds []time.Duration) summary {
	if len(ds) == 0 {
		return summary{}
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return summary{n: len(s), mean: sum / time.Duration(len(s)), p50: at(0.50), p99: at(0.99)}
}

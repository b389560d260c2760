package audit

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"

	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
	"github.com/flink-ha-webhook/flink-ha-webhook/rights"
)

// paged makes f serve the lists of resource held by tracker in pages, as
// the API server does for a list with a limit: at most Limit items, and a
// continue token while more follow (here, where the next page starts).
// The fakes otherwise ignore Limit and answer in one page.
func paged(f *clienttesting.Fake, tracker clienttesting.ObjectTracker, resource string) {
	f.PrependReactor("list", resource, func(action clienttesting.Action) (bool, runtime.Object, error) {
		_, list, err := clienttesting.ObjectReaction(tracker)(action)
		if err != nil {
			return true, nil, err
		}
		opts := action.(clienttesting.ListActionImpl).ListOptions
		items, err := meta.ExtractList(list)
		if err != nil {
			return true, nil, err
		}
		from, to := 0, len(items)
		if opts.Continue != "" {
			if from, err = strconv.Atoi(opts.Continue); err != nil {
				return true, nil, err
			}
		}
		if opts.Limit > 0 && from+int(opts.Limit) < to {
			to = from + int(opts.Limit)
		}
		if err := meta.SetList(list, items[from:to]); err != nil {
			return true, nil, err
		}
		lm, err := meta.ListAccessor(list)
		if err != nil {
			return true, nil, err
		}
		if to < len(items) {
			lm.SetContinue(strconv.Itoa(to))
		}
		return true, list, nil
	})
}

// decoys are workloads of no Flink cluster, named to fall before, between
// and after the Flink ones, so that pages mix both: web servers, a
// TaskManager (its JobManager's cluster's, not a cluster of its own), two
// batch Jobs and a ZooKeeper. billing is a FlinkDeployment without a
// storageDir, which the policy's template would fill in.
var decoys = web("a-web") + web("p-web") + `apiVersion: apps/v1
kind: Deployment
metadata: {name: sessions-taskmanager, labels: {app: sessions, component: taskmanager, type: flink-native-kubernetes}}
spec:
  selector: {matchLabels: {app: sessions, component: taskmanager}}
  template:
    metadata: {labels: {app: sessions, component: taskmanager, type: flink-native-kubernetes}}
    spec:
      containers:
      - {name: flink-main-container, image: flink:1.20.1, args: [bash, -c, kubernetes-taskmanager.sh]}
---
` + web("z-web") + `apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: flyway/flyway:10}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: zz-cleanup}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: cleanup, image: busybox:1.36}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: zookeeper}
spec:
  serviceName: zookeeper
  selector: {matchLabels: {app: zookeeper}}
  template:
    metadata: {labels: {app: zookeeper}}
    spec:
      containers: [{name: zookeeper, image: zookeeper:3.9}]
---
apiVersion: flink.apache.org/v1beta1
kind: FlinkDeployment
metadata: {name: billing}
spec:
  image: flink:1.19
  flinkVersion: v1_19
  serviceAccount: flink
  flinkConfiguration:
    high-availability.type: kubernetes
  jobManager: {resource: {memory: 2048m, cpu: 1}}
  taskManager: {resource: {memory: 2048m, cpu: 1}}
---
`

// web is a web server's Deployment.
func web(name string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s}
spec:
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      containers: [{name: nginx, image: nginx:1.27}]
---
`, name)
}

// TestRunOverPagesReportsAsOnePage audits the end-to-end clusters with
// decoys between them, over pages of one, two and three objects: each
// object is judged on its page, in the order listed, so the report, and
// what Print writes of it in every format, is the one a single page of
// each list makes.
func TestRunOverPagesReportsAsOnePage(t *testing.T) {
	t.Parallel()
	manifests, err := os.ReadFile("../test/audit/testdata/clusters.yaml")
	require.NoError(t, err)
	p, err := policy.Parse([]byte("storageDir: s3://flink-ha/{namespace}/{clusterId}\nserviceAccount: flink-ha\n"))
	require.NoError(t, err)
	audit := func(chunk int64) (*Report, map[string]string, int) {
		w := newWorld(t, strings.ReplaceAll(string(manifests), "NAMESPACE", "team")+"---\n"+decoys)
		w.authorize(map[string][]rights.Access{"team/flink": rights.Grants(rights.Standalone, flinkconf.Supported)})
		for _, r := range []string{"deployments", "statefulsets", "jobs"} {
			paged(&w.kube.Fake, w.kube.Tracker(), r)
		}
		paged(&w.dynamic.Fake, w.dynamic.Tracker(), "flinkdeployments")
		got, err := Run(context.Background(), w.clients(), Options{Namespace: "team", Policy: p, ChunkSize: chunk})
		require.NoError(t, err)
		printed := map[string]string{}
		for _, format := range Formats {
			var out bytes.Buffer
			require.NoError(t, Print(&out, got, format))
			printed[format] = out.String()
		}
		lists := 0
		for _, a := range append(w.kube.Actions(), w.dynamic.Actions()...) {
			if a.GetVerb() == "list" {
				lists++
			}
		}
		return got, printed, lists
	}
	want, wantPrinted, lists := audit(500)
	require.Equal(t, 4, lists, "one page per list")
	require.Len(t, want.Clusters, 7, "the end-to-end clusters and billing")
	for _, chunk := range []int64{1, 2, 3} {
		got, printed, lists := audit(chunk)
		assert.Greater(t, lists, 4, "pages of %d", chunk)
		assert.Equal(t, want, got, "pages of %d", chunk)
		assert.Equal(t, wantPrinted, printed, "pages of %d", chunk)
	}
}

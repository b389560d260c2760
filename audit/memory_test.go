package audit

import (
	"context"
	"fmt"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"

	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
	"github.com/flink-ha-webhook/flink-ha-webhook/rights"
)

// crowd is a cluster with many Deployments, listed in pages of perPage:
// on every page one Flink JobManager (flink-<page>, with its own
// cluster-id, mounting its configuration ConfigMap) among web servers, each
// carrying what a kubectl-applied object carries: managed fields and the
// last-applied-configuration annotation, a few KiB each. The pages are
// made as they are asked for, as an API server sends them, so the test's
// fakes hold none of them.
type crowd struct {
	pages, perPage int
}

// bulk is as large as a Deployment's managed fields, and again its
// last-applied-configuration, typically are.
const bulk = 4 << 10

// page is the page'th page (from 0) of Deployments, every byte of it
// allocated anew.
func (c crowd) page(t testing.TB, page int) *appsv1.DeploymentList {
	list := &appsv1.DeploymentList{Items: make([]appsv1.Deployment, c.perPage)}
	for i := range list.Items {
		d := &list.Items[i]
		if i == c.perPage/2 {
			name := fmt.Sprintf("flink-%d", page)
			require.NoError(t, yaml.Unmarshal([]byte(onlyJobManager(jobManager("team", name, c.conf(name)))), d))
		} else {
			d.Name, d.Namespace = fmt.Sprintf("web-%d-%d", page, i), "team"
			d.Spec.Template.Labels = map[string]string{"app": d.Name}
			d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "nginx", Image: "nginx:1.27"}}
		}
		d.Annotations = map[string]string{corev1.LastAppliedConfigAnnotation: strings.Repeat("x", bulk)}
		d.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply,
			FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(`{"f:spec":"` + strings.Repeat("x", bulk) + `"}`)}}
	}
	if page+1 < c.pages {
		list.Continue = strconv.Itoa(page + 1)
	}
	return list
}

// conf is the configuration of Flink cluster name: HA complete.
func (crowd) conf(name string) string {
	return strings.ReplaceAll(haConf, "orders", name)
}

// world is the cluster holding the crowd: the JobManagers' ConfigMaps are
// stored, the Deployments made page by page.
func (c crowd) world(t testing.TB) *world {
	var manifests strings.Builder
	for page := range c.pages {
		name := fmt.Sprintf("flink-%d", page)
		cm, _, _ := strings.Cut(jobManager("team", name, c.conf(name)), "---\n")
		manifests.WriteString(cm + "---\n")
	}
	w := newWorld(t, manifests.String())
	w.authorize(map[string][]rights.Access{"team/flink": haRights})
	w.kube.PrependReactor("list", "deployments", func(action clienttesting.Action) (bool, runtime.Object, error) {
		page := 0
		if cont := action.(clienttesting.ListActionImpl).ListOptions.Continue; cont != "" {
			page, _ = strconv.Atoi(cont)
		}
		return true, c.page(t, page), nil
	})
	return w
}

// liveHeap is the heap the program still reaches.
func liveHeap() int64 {
	goruntime.GC()
	var m goruntime.MemStats
	goruntime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// peakHeap audits the crowd and returns how far the live heap rose above
// where it was before, at its highest when a page is asked for (the last
// page's objects judged and the next not read yet), and how much one page
// holds.
func (c crowd) peakHeap(t testing.TB) (peak, page int64) {
	w := c.world(t)
	peak = -1 << 62
	measure := func(clienttesting.Action) (bool, runtime.Object, error) {
		peak = max(peak, liveHeap())
		return false, nil, nil
	}
	w.kube.PrependReactor("list", "*", measure)
	w.dynamic.PrependReactor("list", "*", measure)

	c.page(t, 0) // the first page fills caches (of YAML's decoder, for one) the rest reuse
	before := liveHeap()
	one := c.page(t, 0)
	page = liveHeap() - before
	goruntime.KeepAlive(one)
	one = nil

	before = liveHeap()
	report, err := Run(context.Background(), w.clients(), Options{Policy: policy.Default(), ChunkSize: int64(c.perPage)})
	require.NoError(t, err)
	require.Len(t, report.Clusters, c.pages, "a Flink cluster on every page")
	require.False(t, report.AtRisk)
	return peak - before, page
}

// TestRunHoldsOnePageAtATime: however many pages of Deployments the
// cluster holds, the audit's live heap rises by about one page and what
// the report keeps of its Flink clusters, not by the pages read.
// (Not parallel: it measures the heap.)
func TestRunHoldsOnePageAtATime(t *testing.T) {
	c := crowd{pages: 20, perPage: 100}
	peak, page := c.peakHeap(t)
	t.Logf("peak live heap above the start: %d KiB; one page: %d KiB; all %d pages: %d KiB", peak>>10, page>>10, c.pages, int64(c.pages)*page>>10)
	assert.Less(t, peak, 2*page, "the audit holds pages it has read")
}

// BenchmarkRunOverManyPages reports the live heap an audit of 2,000
// Deployments over 20 pages rises by at its peak, beside one page's size.
func BenchmarkRunOverManyPages(b *testing.B) {
	c := crowd{pages: 20, perPage: 100}
	for b.Loop() {
		peak, page := c.peakHeap(b)
		b.ReportMetric(float64(peak)/(1<<20), "peak-live-MiB")
		b.ReportMetric(float64(page)/(1<<20), "page-MiB")
	}
}

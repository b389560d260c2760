package handler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	"sigs.k8s.io/yaml"

	"github.com/flink-ha-webhook/flink-ha-webhook/handler"
	floor "github.com/flink-ha-webhook/flink-ha-webhook/test/noop"
)

// createReview is an AdmissionReview, as the API server sends it, of the
// create of the JSON object js in namespace, of the kind js names.
func createReview(t testing.TB, js []byte, namespace string) []byte {
	var obj metav1.PartialObjectMetadata
	require.NoError(t, json.Unmarshal(js, &obj))
	gv, err := schema.ParseGroupVersion(obj.APIVersion)
	require.NoError(t, err)
	body, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: "review", Kind: metav1.GroupVersionKind{Group: gv.Group, Version: gv.Version, Kind: obj.Kind},
			Namespace: namespace, Name: obj.Name, Operation: admissionv1.Create, Object: runtime.RawExtension{Raw: js},
		},
	})
	require.NoError(t, err)
	return body
}

// reviewBody is the review of the create of the n-th document of a golden
// manifest.
func reviewBody(b *testing.B, file string, n int) []byte {
	raw, err := os.ReadFile("testdata/" + file + ".in.yaml")
	require.NoError(b, err)
	js, err := yaml.YAMLToJSON(documents(b, raw)[n])
	require.NoError(b, err)
	return createReview(b, js, GoldenNamespace)
}

// storedBody is the review of the create of testdata/stored/name.json: an
// object of the bench-e2e workload as kubectl apply sends it and the API
// server stores it, with its defaults, last-applied configuration and
// managed fields (kubectl apply --dry-run=server -o json
// --show-managed-fields on the test bed).
func storedBody(b *testing.B, name string) []byte {
	js, err := os.ReadFile("testdata/stored/" + name + ".json")
	require.NoError(b, err)
	return createReview(b, js, GoldenNamespace)
}

// noop admits everything: the floor every handler is compared with.
var noop = handlerFunc(func(context.Context, admission.Request) admission.Response { return admission.Allowed("") })

// BenchmarkHandlers measures each handler path from the request's bytes to
// the response's, through the same HTTP handling (Serve) the server uses,
// beside a no-op handler on the same path (noop: what Serve itself costs,
// decoding the object of a kind the rules handle included) and a no-op
// webhook outside Serve (allow): compare the ratios.
func BenchmarkHandlers(b *testing.B) {
	p := goldenPolicy(b)
	cases := []struct {
		name, file string
		doc        int
		// unseen: each review carries a configuration text no review
		// carried before, as the create of a new cluster does, so that
		// nothing parsed for an earlier review is reused.
		unseen bool
	}{
		{"ConfigMap", "standalone-session", 0, false},
		{"ConfigYAML", "standalone-application", 0, false},
		{"UnseenConfigYAML", "standalone-application", 0, true},
		{"Deployment", "standalone-session", 1, false},
		{"Job", "standalone-application", 1, false},
		{"FlinkDeployment", "flinkdeployment-nested", 0, false},
		{"HAConfigMap", "ha-configmaps", 0, false},
		{"Untouched", "left-alone", 1, false},
		// As the API server sends them (storedBody).
		{"StoredConfigMap", "configmap", -1, false},
		{"StoredDeployment", "deployment", -1, false},
		{"StoredFlinkDeployment", "flinkdeployment", -1, false},
	}
	limit := handler.NewLimiter(8, time.Second)
	for _, hook := range []struct {
		name string
		srv  http.Handler
	}{
		{"allow", http.HandlerFunc(floor.Allow)},
		{"noop", handler.Serve("noop", noop, limit)},
		{"mutate", handler.Serve("mutate", handler.Mutating(p), limit)},
		{"validate", handler.Serve("validate", handler.Validating(p, nil), limit)},
	} {
		srv := hook.srv
		for _, c := range cases {
			var bodies [][]byte
			if c.doc < 0 {
				bodies = [][]byte{storedBody(b, c.file)}
			} else {
				bodies = [][]byte{reviewBody(b, c.file, c.doc)}
			}
			if c.unseen {
				bodies = unseenConfigs(b, bodies[0], 1024)
			}
			b.Run(hook.name+"/"+c.name, func(b *testing.B) {
				b.SetBytes(int64(len(bodies[0])))
				b.ReportAllocs()
				start := cpuTime()
				i := 0
				for b.Loop() {
					body := bodies[i%len(bodies)]
					i++
					req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					rec := httptest.NewRecorder()
					srv.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatalf("status %d: %s", rec.Code, rec.Body)
					}
				}
				reportCPU(b, start)
			})
		}
	}
}

// unseenConfigs are n copies of the review of a ConfigMap, each with a
// comment of its own at the end of every configuration text.
func unseenConfigs(b *testing.B, body []byte, n int) [][]byte {
	var review admissionv1.AdmissionReview
	require.NoError(b, json.Unmarshal(body, &review))
	var cm corev1.ConfigMap
	require.NoError(b, json.Unmarshal(review.Request.Object.Raw, &cm))
	out := make([][]byte, n)
	for i := range out {
		c := cm.DeepCopy()
		for k, v := range c.Data {
			c.Data[k] = v + "# review " + strconv.Itoa(i) + "\n"
		}
		raw, err := json.Marshal(c)
		require.NoError(b, err)
		r := review.DeepCopy()
		r.Request.Object.Raw = raw
		if out[i], err = json.Marshal(r); err != nil {
			b.Fatal(err)
		}
	}
	return out
}

// reportCPU adds the CPU time per operation since start (cpu-ns/op):
// steadier than ns/op when other work shares the machine.
func reportCPU(b *testing.B, start int64) {
	if start > 0 && b.N > 0 {
		b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkLongArgs sends a JobManager Deployment with n arguments through
// the mutating webhook (which inserts $(POD_IP) at args[1]): doubling n
// should double the time, and the patch stays one operation.
func BenchmarkLongArgs(b *testing.B) {
	p := goldenPolicy(b)
	srv := handler.Serve("mutate", handler.Mutating(p), handler.NewLimiter(1, time.Second))
	for _, n := range []int{50_000, 100_000, 200_000} {
		args := make([]string, n)
		for i := range args {
			args[i] = "--x" + strconv.Itoa(i)
		}
		args[0] = "jobmanager"
		obj, err := json.Marshal(map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "jm"},
			"spec": map[string]any{"selector": map[string]any{}, "template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"component": "jobmanager"}},
				"spec": map[string]any{"containers": []any{map[string]any{"name": "jobmanager", "image": "flink:1.20", "args": args}}}}}})
		require.NoError(b, err)
		body, err := json.Marshal(admissionv1.AdmissionReview{
			TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
			Request: &admissionv1.AdmissionRequest{UID: "bench", Kind: metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"},
				Namespace: GoldenNamespace, Operation: admissionv1.Create, Object: runtime.RawExtension{Raw: obj}},
		})
		require.NoError(b, err)
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				srv.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK || rec.Body.Len() > 4<<10 {
					b.Fatalf("status %d, %d bytes: %.500s", rec.Code, rec.Body.Len(), rec.Body)
				}
			}
		})
	}
}

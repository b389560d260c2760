package handler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/flink-ha-webhook/flink-ha-webhook/handler"
)

// TestRecordingAnnotatesWhatItRecognised runs the mutating webhook with
// recording on, applies its patch and expects the recorded annotations,
// exactly, and no patch on a second pass.
func TestRecordingAnnotatesWhatItRecognised(t *testing.T) {
	t.Parallel()
	h := handler.Recording(handler.Mutating(goldenPolicy(t)))
	cmKind := metav1.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	cases := map[string]struct {
		kind metav1.GroupVersionKind
		obj  string
		want map[string]string
	}{
		"a configuration the rules complete is recorded as completed": {
			kind: cmKind, obj: `{"metadata":{"name":"c"},"data":{"flink-conf.yaml":"kubernetes.cluster-id: orders\n"}}`,
			want: map[string]string{handler.AnnotationCluster: "analytics/ConfigMap/c", handler.AnnotationClusterID: "orders",
				handler.AnnotationStoragePath: "s3://flink-ha/analytics/orders/orders"},
		},
		"recorded values that are wrong are corrected, other annotations kept": {
			kind: cmKind, obj: `{"metadata":{"name":"c","annotations":{"team":"a","flink-ha-webhook/cluster-id":"forged","flink-ha-webhook/ha-storage-path":"x"}},
				"data":{"flink-conf.yaml":"kubernetes.cluster-id: orders\nhigh-availability.type: kubernetes\nhigh-availability.storageDir: s3://b/ha\nhigh-availability.cluster-id: orders\n"}}`,
			want: map[string]string{"team": "a", handler.AnnotationCluster: "analytics/ConfigMap/c", handler.AnnotationClusterID: "orders",
				handler.AnnotationStoragePath: "s3://b/ha/orders"},
		},
		"an object that no longer defines a cluster loses what was recorded": {
			kind: cmKind, obj: `{"metadata":{"name":"c","annotations":{"team":"a","flink-ha-webhook/cluster-id":"orders"}},"data":{"app.properties":"x"}}`,
			want: map[string]string{"team": "a"},
		},
		"a FlinkDeployment is recorded under its name": {
			kind: metav1.GroupVersionKind{Group: "flink.apache.org", Version: "v1beta1", Kind: "FlinkDeployment"},
			obj:  `{"apiVersion":"flink.apache.org/v1beta1","kind":"FlinkDeployment","metadata":{"name":"fd"},"spec":{"flinkVersion":"v1_20","serviceAccount":"flink"}}`,
			want: map[string]string{handler.AnnotationCluster: "analytics/native/fd", handler.AnnotationClusterID: "fd",
				handler.AnnotationStoragePath: "s3://flink-ha/analytics/fd/fd"},
		},
		"a ConfigMap that is not Flink's is not touched": {
			kind: cmKind, obj: `{"metadata":{"name":"c"},"data":{"app.properties":"x"}}`,
		},
	}
	for name, tc := range cases {
		admit := func(raw []byte) (admission.Response, []byte) {
			resp := h.Handle(context.Background(), admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
				Kind: tc.kind, Namespace: "analytics", Operation: admissionv1.Create, Object: runtime.RawExtension{Raw: raw}}})
			require.True(t, resp.Allowed, name)
			if len(resp.Patches) == 0 {
				return resp, raw
			}
			ops, err := json.Marshal(resp.Patches)
			require.NoError(t, err, name)
			patch, err := jsonpatch.DecodePatch(ops)
			require.NoError(t, err, name)
			out, err := patch.Apply(raw)
			require.NoError(t, err, name)
			return resp, out
		}
		_, stored := admit([]byte(tc.obj))
		var got struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
		}
		require.NoError(t, json.Unmarshal(stored, &got), name)
		assert.Equal(t, tc.want, got.Metadata.Annotations, name)
		again, _ := admit(stored)
		assert.Empty(t, again.Patches, "%s: a second pass records nothing new", name)
	}
}

// BenchmarkRecording compares the mutating webhook with and without the
// recorded annotations, side by side, on the objects that define clusters.
func BenchmarkRecording(b *testing.B) {
	p := goldenPolicy(b)
	for _, tc := range []struct {
		name, file string
		doc        int
	}{
		{"ConfigMap", "standalone-session", 0},
		{"Deployment", "standalone-session", 1},
		{"FlinkDeployment", "flinkdeployment-nested", 0},
	} {
		body := reviewBody(b, tc.file, tc.doc)
		for _, h := range []struct {
			name    string
			handler admission.Handler
		}{{"Mutating", handler.Mutating(p)}, {"Recording", handler.Recording(handler.Mutating(p))}} {
			wh := &admission.Webhook{Handler: h.handler}
			b.Run(tc.name+"/"+h.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					req := httptest.NewRequest(http.MethodPost, "/mutate", bytes.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					w := httptest.NewRecorder()
					wh.ServeHTTP(w, req)
					if w.Code != http.StatusOK || !bytes.Contains(w.Body.Bytes(), []byte(`"patch"`)) {
						b.Fatal(w.Body.String())
					}
				}
			})
		}
	}
}

package handler_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/flink-ha-webhook/flink-ha-webhook/handler"
)

// answer is what a webhook of Serve answers body with.
func answer(t *testing.T, srv http.Handler, body []byte) admissionv1.AdmissionResponse {
	req := httptest.NewRequest(http.MethodPost, "/?timeout=10s", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var review admissionv1.AdmissionReview
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &review))
	require.NotNil(t, review.Response)
	return *review.Response
}

// TestManagedFieldsChangeNoAnswer sends every golden object through both
// webhooks as the API server sends it, with its managed fields, and as
// written: the answers (patch, warnings, verdict) are the same, so the
// webhooks neither read the managed fields nor touch them in the stored
// object.
func TestManagedFieldsChangeNoAnswer(t *testing.T) {
	t.Parallel()
	p := goldenPolicy(t)
	limit := handler.NewLimiter(4, time.Second)
	hooks := map[string]http.Handler{
		"mutate":   handler.Serve("mutate", handler.Recording(handler.Mutating(p)), limit),
		"validate": handler.Serve("validate", handler.Validating(p, nil), limit),
	}
	ins, err := filepath.Glob("testdata/*.in.yaml")
	require.NoError(t, err)
	seen := 0
	for _, in := range ins {
		raw, err := os.ReadFile(in)
		require.NoError(t, err)
		for i, doc := range documents(t, raw) {
			js, err := yaml.YAMLToJSON(doc)
			require.NoError(t, err)
			var tm metav1.TypeMeta
			require.NoError(t, json.Unmarshal(js, &tm))
			gv, err := schema.ParseGroupVersion(tm.APIVersion)
			require.NoError(t, err)
			if !handler.Known(gv.WithKind(tm.Kind).GroupKind()) {
				continue
			}
			seen++
			stored := handler.WithManagedFields(t, js)
			for name, srv := range hooks {
				written, sent := answer(t, srv, createReview(t, js, GoldenNamespace)), answer(t, srv, createReview(t, stored, GoldenNamespace))
				assert.Equal(t, written, sent, "%s, document %d, %s", in, i, name)
				assert.NotContains(t, string(sent.Patch), "managedFields", "%s, document %d, %s", in, i, name)
			}
		}
	}
	assert.Greater(t, seen, 30, "the golden objects of the kinds the rules handle")
}

// TestManagedFieldsStayWhenTheObjectIsPatched: the patch of a changed
// object, applied as the API server applies it, keeps the managed fields
// the object came with.
func TestManagedFieldsStayWhenTheObjectIsPatched(t *testing.T) {
	t.Parallel()
	p := goldenPolicy(t)
	var docs [][]byte
	for _, c := range []struct {
		file string
		n    int
	}{{"standalone-session", 2}, {"flinkdeployment-flat", 1}} {
		raw, err := os.ReadFile("testdata/" + c.file + ".in.yaml")
		require.NoError(t, err)
		docs = append(docs, documents(t, raw)[:c.n]...)
	}
	for _, doc := range docs {
		js, err := yaml.YAMLToJSON(doc)
		require.NoError(t, err)
		stored := handler.WithManagedFields(t, js)
		_, _, patched, outcome := admit(t, handler.Mutating(p), handler.Validating(p, nil), mustYAML(t, stored))
		require.True(t, strings.Contains(outcome, "changed"), outcome)
		var obj struct {
			Metadata struct {
				ManagedFields json.RawMessage `json:"managedFields"`
			} `json:"metadata"`
		}
		require.NoError(t, json.Unmarshal(patched, &obj))
		assert.JSONEq(t, handler.ManagedFields, string(obj.Metadata.ManagedFields), outcome)
	}
}

func mustYAML(t *testing.T, js []byte) []byte {
	y, err := yaml.JSONToYAML(js)
	require.NoError(t, err)
	return y
}

package handler

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// sameAsStandard fails t unless decodeReview and decodePlain read body as a
// decode into admissionv1.AdmissionReview does: the same error, or the same
// review but for the skipped oldObject, with the object decoded only when
// that is the object's bytes decoded into its kind's type.
func sameAsStandard(t *testing.T, body []byte) (typed bool) {
	t.Helper()
	var std admissionv1.AdmissionReview
	stdErr := json.Unmarshal(body, &std)
	for _, withType := range []bool{false, true} {
		decode := decodePlain
		if withType {
			decode = decodeReview
		}
		got, err := decode(body)
		if stdErr != nil {
			require.EqualError(t, err, stdErr.Error(), "typed %v: %s", withType, body)
			continue
		}
		require.NoError(t, err, "typed %v: %s", withType, body)
		want := std
		if std.Request != nil {
			r := *std.Request
			r.OldObject = runtime.RawExtension{}
			want.Request = &r
		}
		var decoded runtime.Object
		if got.Request != nil {
			decoded = got.Request.Object.Object
			r := *got.Request
			r.Object.Object = nil
			got = &admissionv1.AdmissionReview{TypeMeta: got.TypeMeta, Request: &r}
		}
		require.Equal(t, &want, got, "typed %v: %s", withType, body)
		if decoded == nil {
			continue
		}
		require.True(t, withType, "an object decoded without being asked for: %s", body)
		typed = true
		k := kinds[schema.GroupKind{Group: got.Request.Kind.Group, Kind: got.Request.Kind.Kind}]
		require.NotNil(t, k, "an object of a kind the rules do not handle decoded: %s", body)
		again := k.newObject()
		raw := got.Request.Object.Raw
		require.NoError(t, json.Unmarshal(raw, k.decodeTarget(again)), "decoded, yet its bytes do not decode: %s", body)
		require.True(t, reflect.DeepEqual(again, decoded), "decoded as %#v, its bytes as %#v: %s", decoded, again, body)
		require.Nil(t, again.(metav1.Object).GetManagedFields())
		// Into the kind's own type, the bytes decode the same but for the
		// managed fields, which the webhooks skip, whatever they hold.
		plain := k.newObject()
		if json.Unmarshal(raw, plain) == nil {
			plain.(metav1.Object).SetManagedFields(nil)
			require.True(t, reflect.DeepEqual(plain, decoded), "decoded as %#v, as its type %#v: %s", decoded, plain, body)
		}
	}
	return typed
}

// goldenObjects are the golden manifests' documents as JSON.
func goldenObjects(t testing.TB) [][]byte {
	paths, err := filepath.Glob("testdata/*.in.yaml")
	require.NoError(t, err)
	var out [][]byte
	for _, path := range paths {
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
		for {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err)
			js, err := yaml.YAMLToJSON(doc)
			require.NoError(t, err)
			if string(js) != "null" {
				out = append(out, js)
			}
		}
	}
	return out
}

// reviewOf is an AdmissionReview of obj as the API server writes it.
func reviewOf(t testing.TB, obj []byte, old []byte) []byte {
	var tm metav1.TypeMeta
	require.NoError(t, json.Unmarshal(obj, &tm))
	gv, err := schema.ParseGroupVersion(tm.APIVersion)
	require.NoError(t, err)
	body, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: "u", Kind: metav1.GroupVersionKind{Group: gv.Group, Version: gv.Version, Kind: tm.Kind},
			Namespace: "team", Operation: admissionv1.Update,
			Object: runtime.RawExtension{Raw: obj}, OldObject: runtime.RawExtension{Raw: old},
		},
	})
	require.NoError(t, err)
	return body
}

const cm = `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"data":{"a":"b"}}`

// oddReviews are reviews no API server sends, where a walk over the bytes
// could read another object than the decoder does.
var oddReviews = map[string]string{
	"the object before the kind":                     `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","object":` + cm + `,"kind":{"version":"v1","kind":"ConfigMap"}}}`,
	"the object's key in capitals":                   `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"ConfigMap"},"OBJECT":` + cm + `}}`,
	"the object twice":                               `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"ConfigMap"},"object":` + cm + `,"object":{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"y"}}}}`,
	"the object twice, once in capitals":             `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"ConfigMap"},"object":` + cm + `,"Object":{"metadata":{"name":"y"}}}}`,
	"the object's key escaped":                       `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"ConfigMap"},"\u006fbject":` + cm + `}}`,
	"the kind twice":                                 `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"Secret"},"object":` + cm + `,"kind":{"version":"v1","kind":"ConfigMap"}}}`,
	"the request twice":                              `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"ConfigMap"},"object":` + cm + `},"request":{"uid":"v"}}`,
	"a null object":                                  `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"ConfigMap"},"object":null}}`,
	"an object that is a number":                     `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"ConfigMap"},"object":5}}`,
	"an object of the wrong shape":                   `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"ConfigMap"},"object":{"metadata":{"name":5}}}}`,
	"an oldObject that is a string":                  `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"ConfigMap"},"object":` + cm + `,"oldObject":"x"}}`,
	"a uid that is a number":                         `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":5,"kind":{"version":"v1","kind":"ConfigMap"},"object":` + cm + `}}`,
	"the kind's keys in capitals":                    `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"VERSION":"v1","Kind":"ConfigMap"},"object":` + cm + `}}`,
	"the kind's group escaped":                       `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"app\u0073","version":"v1","kind":"Deployment"},"object":{"metadata":{"name":"d"}}}}`,
	"the kind's group null":                          `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":null,"version":"v1","kind":"ConfigMap"},"object":` + cm + `}}`,
	"a request that is a list":                       `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":[]}`,
	"a FlinkDeployment without a kind in its object": `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"flink.apache.org","version":"v1beta1","kind":"FlinkDeployment"},"object":{"metadata":{"name":"f"}}}}`,
	"spaces everywhere":                              " { \"apiVersion\" : \"admission.k8s.io/v1\" , \"kind\":\"AdmissionReview\",\n\"request\" :\t{ \"uid\" : \"u\" , \"kind\" : { \"version\" : \"v1\" , \"kind\" : \"ConfigMap\" } , \"object\" : " + cm + " } } ",
	"cut short":                                      `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"ConfigMap"},"object":{"metadata":`,
	"not JSON after it":                              `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"ConfigMap"},"object":` + cm + `}} x`,
	"managed fields twice":                           `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"ConfigMap"},"object":{"metadata":{"name":"x","managedFields":[{"manager":"a"}],"ManagedFields":[{"manager":"b"}]}}}}`,
	"managed fields in capitals":                     `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"ConfigMap"},"object":{"metadata":{"name":"x","MANAGEDFIELDS":[{"manager":"a"}]}}}}`,
	"managed fields of the wrong shape":              `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"ConfigMap"},"object":{"metadata":{"name":"x","managedFields":{"manager":"a"}}}}}`,
	"managed fields cut short":                       `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"ConfigMap"},"object":{"metadata":{"name":"x","managedFields":[{"manager":"a"}`,
	"managed fields not JSON":                        `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"ConfigMap"},"object":{"metadata":{"name":"x","managedFields":[{"manager":"a"},}]}}}}`,
	"managed fields then not JSON":                   `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"ConfigMap"},"object":{"metadata":{"name":"x","managedFields":[] 5}}}}`,
	"metadata twice":                                 `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"ConfigMap"},"object":{"metadata":{"managedFields":[{"manager":"a"}]},"metadata":{"name":"x"}}}}`,
	"null":                                           `null`,
	"empty":                                          ``,
}

func TestDecodeReviewReadsWhatTheStandardTypesRead(t *testing.T) {
	t.Parallel()
	for _, obj := range goldenObjects(t) {
		body := reviewOf(t, obj, obj)
		sameAsStandard(t, reviewOf(t, withManagedFields(t, obj), nil))
		typed := sameAsStandard(t, body)
		var tm metav1.TypeMeta
		require.NoError(t, json.Unmarshal(obj, &tm))
		gv, _ := schema.ParseGroupVersion(tm.APIVersion)
		k, known := kinds[gv.WithKind(tm.Kind).GroupKind()]
		assert.Equal(t, known && !k.decodesItself(), typed, "decoded with the review exactly when the rules handle the kind with a typed object: %s", obj)
	}
	for name, body := range oddReviews {
		t.Run(name, func(t *testing.T) { sameAsStandard(t, []byte(body)) })
	}
}

// FuzzDecodeReview: whatever the bytes, decodeReview reads them as the
// standard types do.
func FuzzDecodeReview(f *testing.F) {
	for _, obj := range goldenObjects(f) {
		f.Add(reviewOf(f, obj, nil))
		f.Add(reviewOf(f, withManagedFields(f, obj), nil))
	}
	for _, body := range oddReviews {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) { sameAsStandard(t, body) })
}

// managedFields are the managed fields kubectl's client-side apply and
// another writer leave on an object, in the API server's spelling.
const managedFields = `[{"manager":"kubectl-client-side-apply","operation":"Update","apiVersion":"v1","time":"2026-11-24T23:00:00Z","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:annotations":{".":{},"f:kubectl.kubernetes.io/last-applied-configuration":{}}},"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"jobmanager\"}":{".":{},"f:args":{},"f:image":{}}}}}}}},{"manager":"other","operation":"Update","apiVersion":"v1","time":"2026-11-24T23:00:01Z","fieldsType":"FieldsV1","fieldsV1":{"f:data":{".":{},"f:flink-conf.yaml":{}}}}]`

// withManagedFields is the JSON object js with managedFields in its
// metadata, as the API server sends every object it stores.
func withManagedFields(t testing.TB, js []byte) []byte {
	var obj map[string]any
	require.NoError(t, json.Unmarshal(js, &obj))
	meta, _ := obj["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		obj["metadata"] = meta
	}
	var fields any
	require.NoError(t, json.Unmarshal([]byte(managedFields), &fields))
	meta["managedFields"] = fields
	out, err := json.Marshal(obj)
	require.NoError(t, err)
	return out
}

func TestWithoutManagedFields(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct{ in, want string }{
		"an object as stored": {`{"metadata":{"name":"x","managedFields":[{"manager":"a","fieldsV1":{"f:data":{}}}],"uid":"u"},"data":{}}`,
			`{"metadata":{"name":"x","managedFields":null,"uid":"u"},"data":{}}`},
		"spaces": {` { "metadata" : { "managedFields" : [ ] } } `, ` { "metadata" : { "managedFields" : null } } `},
		"capitals, as encoding/json matches them": {`{"Metadata":{"MANAGEDFIELDS":[{}]}}`, `{"Metadata":{"MANAGEDFIELDS":null}}`},
		"none":                   {`{"metadata":{"name":"x"}}`, `{"metadata":{"name":"x"}}`},
		"null":                   {`{"metadata":{"managedFields":null}}`, `{"metadata":{"managedFields":null}}`},
		"twice":                  {`{"metadata":{"managedFields":[],"managedfields":[]}}`, `{"metadata":{"managedFields":[],"managedfields":[]}}`},
		"escaped":                {`{"metadata":{"managed\u0046ields":[{}]}}`, `{"metadata":{"managed\u0046ields":[{}]}}`},
		"metadata twice":         {`{"metadata":{"managedFields":[{}]},"metadata":{}}`, `{"metadata":{"managedFields":[{}]},"metadata":{}}`},
		"not JSON":               {`{"metadata":{"managedFields":[{},]}}`, `{"metadata":{"managedFields":[{},]}}`},
		"elsewhere":              {`{"spec":{"managedFields":[{}]}}`, `{"spec":{"managedFields":[{}]}}`},
		"metadata not an object": {`{"metadata":[{"managedFields":[{}]}]}`, `{"metadata":[{"managedFields":[{}]}]}`},
		"cut short":              {`{"metadata":{"managedFields":[{}]`, `{"metadata":{"managedFields":[{}]`},
	} {
		in := []byte(c.in)
		got := string(withoutManagedFields(in))
		assert.Equal(t, c.want, got, name)
		assert.Equal(t, c.in, string(in), "%s: the bytes given are not changed", name)
	}
}

// TestReviewsOfStoredObjectsSkipTheirManagedFields: the object of a review
// as the API server sends it is decoded without its managed fields, and
// its bytes keep them.
func TestReviewsOfStoredObjectsSkipTheirManagedFields(t *testing.T) {
	t.Parallel()
	obj := withManagedFields(t, []byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"jm"},"spec":{"template":{"spec":{"containers":[{"name":"jobmanager","args":["jobmanager"]}]}}}}`))
	review, err := decodeReview(reviewOf(t, obj, nil))
	require.NoError(t, err)
	decoded, ok := review.Request.Object.Object.(metav1.Object)
	require.True(t, ok, "a Deployment is decoded with its review")
	assert.Equal(t, "jm", decoded.GetName())
	assert.Nil(t, decoded.GetManagedFields())
	assert.Contains(t, string(review.Request.Object.Raw), `"managedFields":[{`)
}

package noop

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
)

func TestPatching(t *testing.T) {
	cases := map[string]struct {
		path, object string
		// want is the object after the answer's patch; empty for no patch.
		want string
	}{
		"an object without annotations gets the annotations with the mark": {
			path: "/mutate", object: `{"metadata":{"name":"a"},"data":{"k":"v"}}`,
			want: `{"metadata":{"name":"a","annotations":{"bench.example/patched":"true"}},"data":{"k":"v"}}`,
		},
		"an object with annotations keeps them and gets the mark": {
			path: "/mutate", object: `{"metadata":{"name":"a","annotations":{"x":"y"}}}`,
			want: `{"metadata":{"name":"a","annotations":{"x":"y","bench.example/patched":"true"}}}`,
		},
		"an object with an empty annotations map gets the mark": {
			path: "/mutate", object: `{"metadata":{"name":"a","annotations":{}}}`,
			want: `{"metadata":{"name":"a","annotations":{"bench.example/patched":"true"}}}`,
		},
		"a review sent to another path is allowed without a patch": {
			path: "/validate", object: `{"metadata":{"name":"a"}}`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			body := `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1","object":` + tc.object + `}}`
			rec := httptest.NewRecorder()
			Patching("/mutate")(rec, httptest.NewRequest(http.MethodPost, tc.path, bytes.NewBufferString(body)))
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			var review admissionv1.AdmissionReview
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &review))
			require.NotNil(t, review.Response)
			assert.True(t, review.Response.Allowed)
			assert.Equal(t, "u1", string(review.Response.UID))
			if tc.want == "" {
				assert.Nil(t, review.Response.Patch)
				assert.Nil(t, review.Response.PatchType)
				return
			}
			require.NotNil(t, review.Response.PatchType)
			assert.Equal(t, admissionv1.PatchTypeJSONPatch, *review.Response.PatchType)
			patch, err := jsonpatch.DecodePatch(review.Response.Patch)
			require.NoError(t, err)
			got, err := patch.Apply([]byte(tc.object))
			require.NoError(t, err)
			assert.JSONEq(t, tc.want, string(got))
		})
	}
}

func TestAllowRefusesWhatIsNotAReview(t *testing.T) {
	for name, body := range map[string]string{"not JSON": "{", "a review without a request": `{"kind":"AdmissionReview"}`} {
		t.Run(name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			Allow(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewBufferString(body)))
			assert.Equal(t, http.StatusBadRequest, rec.Code)
		})
	}
}

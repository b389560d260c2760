// Package noop is the floor an admission webhook costs: an answer of
// allowed, without a patch, to every AdmissionReview. The end-to-end bench
// serves it as a process of its own (test/bench/noop) and the handler's
// benchmarks call it beside the webhook's own handlers.
package noop

import (
	"encoding/json"
	"io"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
)

// Allow answers an AdmissionReview with allowed and no patch, and anything
// else with a 400.
func Allow(w http.ResponseWriter, r *http.Request) {
	answer(w, r, false)
}

// PatchedAnnotation is what Patching adds to every object it patches.
const PatchedAnnotation = "bench.example/patched"

// Patching returns a handler that answers as Allow, except that a review
// sent to mutatePath is answered with a one-operation JSON patch adding
// PatchedAnnotation. It is the floor of a webhook that changes what it
// admits: whatever a patch holds, the API server encodes the object,
// applies the patch and decodes the result again.
func Patching(mutatePath string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		answer(w, r, r.URL.Path == mutatePath)
	}
}

var (
	addAnnotations = []byte(`[{"op":"add","path":"/metadata/annotations","value":{"bench.example/patched":"true"}}]`)
	addAnnotation  = []byte(`[{"op":"add","path":"/metadata/annotations/bench.example~1patched","value":"true"}]`)
)

func answer(w http.ResponseWriter, r *http.Request, patch bool) {
	var review admissionv1.AdmissionReview
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err == nil {
		err = json.Unmarshal(body, &review)
	}
	if err != nil || review.Request == nil {
		http.Error(w, "expected an AdmissionReview", http.StatusBadRequest)
		return
	}
	resp := &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: true}
	if patch {
		var obj struct {
			Metadata struct {
				Annotations map[string]string `json:"annotations"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(review.Request.Object.Raw, &obj); err != nil {
			http.Error(w, "expected an object in the AdmissionReview", http.StatusBadRequest)
			return
		}
		pt := admissionv1.PatchTypeJSONPatch
		resp.PatchType, resp.Patch = &pt, addAnnotation
		if obj.Metadata.Annotations == nil {
			resp.Patch = addAnnotations
		}
	}
	review.Response = resp
	review.Request = nil
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(&review)
}

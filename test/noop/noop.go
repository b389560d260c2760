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
	var review admissionv1.AdmissionReview
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err == nil {
		err = json.Unmarshal(body, &review)
	}
	if err != nil || review.Request == nil {
		http.Error(w, "expected an AdmissionReview", http.StatusBadRequest)
		return
	}
	review.Response = &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: true}
	review.Request = nil
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(&review)
}

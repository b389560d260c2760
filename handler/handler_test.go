package handler_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/flink-ha-webhook/flink-ha-webhook/handler"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
	"github.com/flink-ha-webhook/flink-ha-webhook/validate"
)

func TestHandlersLeaveAlone(t *testing.T) {
	t.Parallel()
	p := goldenPolicy(t)
	owned := []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"orders-cluster-config-map","ownerReferences":[{"apiVersion":"v1","kind":"Pod","name":"p","uid":"u"}]}}`)
	cmKind := metav1.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	cases := map[string]admissionv1.AdmissionRequest{
		"a DELETE":  {Kind: cmKind, Operation: admissionv1.Delete, OldObject: runtime.RawExtension{Raw: owned}},
		"a CONNECT": {Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}, Operation: admissionv1.Connect},
		"a kind the rules do not know": {Kind: metav1.GroupVersionKind{Group: "flink.apache.org", Version: "v1beta1", Kind: "FlinkSessionJob"},
			Operation: admissionv1.Create, Object: runtime.RawExtension{Raw: []byte(`{"spec":{"deploymentName":"x"}}`)}},
	}
	for name, req := range cases {
		for _, h := range []admission.Handler{handler.Mutating(p), handler.Validating(p, nil)} {
			resp := h.Handle(context.Background(), admission.Request{AdmissionRequest: req})
			assert.True(t, resp.Allowed, name)
			assert.Empty(t, resp.Patches, name)
			assert.Empty(t, resp.Warnings, name)
		}
	}
}

func TestHandlersAnswerUndecodableObjectsWith400(t *testing.T) {
	t.Parallel()
	p := policy.Default()
	req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		Kind: metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, Operation: admissionv1.Create,
		Object: runtime.RawExtension{Raw: []byte(`{"spec":{"replicas":"two"}}`)},
	}}
	for _, h := range []admission.Handler{handler.Mutating(p), handler.Validating(p, nil)} {
		resp := h.Handle(context.Background(), req)
		assert.False(t, resp.Allowed)
		assert.Equal(t, int32(http.StatusBadRequest), resp.Result.Code)
		assert.Contains(t, resp.Result.Message, "decoding the Deployment")
	}
}

func TestWarnOnlyPolicyAdmitsWithTheProblemsAsWarnings(t *testing.T) {
	t.Parallel()
	p, err := policy.Parse([]byte("enforcement: warn\n"))
	require.NoError(t, err)
	req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		Kind: metav1.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, Operation: admissionv1.Create, Namespace: "team",
		Object: runtime.RawExtension{Raw: []byte(`{"metadata":{"name":"flink-config"},"data":{"flink-conf.yaml":"high-availability.type: kubernetes\n"}}`)},
	}}
	resp := handler.Validating(p, nil).Handle(context.Background(), req)
	assert.True(t, resp.Allowed)
	assert.Equal(t, []string{
		"data[flink-conf.yaml][high-availability.storageDir]: Required value: Kubernetes HA keeps job graphs and checkpoint pointers there: set high-availability.storageDir to a URI every JobManager can reach, such as s3://<bucket>/flink-ha/<cluster-id>",
		"data[flink-conf.yaml][kubernetes.cluster-id]: Required value: Kubernetes HA names its ConfigMaps after it: set kubernetes.cluster-id to a name unique in the namespace, such as the JobManager Deployment's",
	}, resp.Warnings)
}

// deniedAll is an AccessChecker whose authorizer refuses everything, or
// cannot be reached.
type deniedAll struct{ err error }

func (d deniedAll) Denied(_ context.Context, a validate.Account) ([]validate.Access, error) {
	if d.err != nil {
		return nil, d.err
	}
	return a.Needs(), nil
}

func TestAccountCheck(t *testing.T) {
	t.Parallel()
	deployment := []byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"jm"},"spec":{"selector":{},"template":{
		"metadata":{"labels":{"component":"jobmanager"}},
		"spec":{"serviceAccountName":"mine","containers":[{"name":"jobmanager","image":"flink:1.20","args":["jobmanager"]}]}}}}`)
	req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		Kind: metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, Operation: admissionv1.Create, Namespace: "team",
		Object: runtime.RawExtension{Raw: deployment},
	}}
	enforce, err := policy.Parse([]byte("checkAccounts: enforce\n"))
	require.NoError(t, err)
	off, err := policy.Parse([]byte("checkAccounts: off\n"))
	require.NoError(t, err)

	resp := handler.Validating(enforce, deniedAll{}).Handle(context.Background(), req)
	assert.False(t, resp.Allowed, "enforce denies an account without Flink's rights")
	require.Len(t, resp.Result.Details.Causes, 1)
	assert.Equal(t, "spec.template.spec.serviceAccountName", resp.Result.Details.Causes[0].Field)

	resp = handler.Validating(enforce, deniedAll{err: errors.New("connection refused")}).Handle(context.Background(), req)
	assert.True(t, resp.Allowed, "an authorizer that cannot be asked never denies")
	assert.Equal(t, []string{"spec.template.spec.serviceAccountName: could not check the rights of account mine: connection refused"}, resp.Warnings)

	resp = handler.Validating(off, deniedAll{}).Handle(context.Background(), req)
	assert.True(t, resp.Allowed)
	assert.Empty(t, resp.Warnings, "checkAccounts: off asks nothing")
}

package handler_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
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

// TestFlinkDeploymentAccountsAreCheckedPerRole: the account check asks
// about the account each role of a FlinkDeployment's cluster runs under,
// with that role's needs, and names the field that chose it; the
// authorizer here refuses everything.
func TestFlinkDeploymentAccountsAreCheckedPerRole(t *testing.T) {
	t.Parallel()
	enforce, err := policy.Parse([]byte("checkAccounts: enforce\n"))
	require.NoError(t, err)
	const native = "get configmaps, list configmaps, watch configmaps, create configmaps, update configmaps, patch configmaps, delete configmaps, " +
		"get pods, list pods, watch pods, create pods, delete pods, get deployments, delete deployments, update deployments/finalizers"
	const standalone = "get configmaps, list configmaps, watch configmaps, create configmaps, update configmaps, patch configmaps, delete configmaps"
	const retrieval = "list configmaps, watch configmaps"
	const keyFix = "bind it to a Role that allows it, or set the key to the webhook's account (flink-ha), or remove it for %s to run under spec.serviceAccount"
	const specFix = "bind it to a Role that allows it, or leave the account to the webhook (flink-ha)"
	jmKey := `spec.flinkConfiguration[kubernetes.jobmanager.service-account]`
	tmKey := `spec.flinkConfiguration[kubernetes.taskmanager.service-account]`
	cause := func(path, account, lacks, role, fix string) metav1.StatusCause {
		return metav1.StatusCause{Type: metav1.CauseTypeFieldValueInvalid, Field: path,
			Message: fmt.Sprintf("Invalid value: %q: may not %s in team, which %s with Flink's HA: %s", account, lacks, role, fix)}
	}
	type spec = map[string]any
	cases := map[string]struct {
		spec spec // over an HA cluster of Flink 1.20 with nothing else to say
		want []metav1.StatusCause
	}{
		"a JobManager key naming the default account is refused on that key; the TaskManagers run under the webhook's account": {
			spec: spec{"serviceAccount": "flink-ha", "conf": spec{"kubernetes.jobmanager.service-account": "default"}},
			want: []metav1.StatusCause{cause(jmKey, "default", native, "the JobManager needs", fmt.Sprintf(keyFix, "the JobManager"))},
		},
		"a TaskManager key, nested, is asked only for leader retrieval": {
			spec: spec{"serviceAccount": "flink-ha", "conf": spec{"kubernetes": spec{"taskmanager": spec{"service-account": "workers"}}}},
			want: []metav1.StatusCause{cause(tmKey, "workers", retrieval, "the TaskManagers need", fmt.Sprintf(keyFix, "the TaskManagers"))},
		},
		"a standalone JobManager under its key, the TaskManagers under a chosen spec.serviceAccount": {
			spec: spec{"mode": "standalone", "serviceAccount": "mine", "conf": spec{"kubernetes.jobmanager.service-account": "leader"}},
			want: []metav1.StatusCause{
				cause(jmKey, "leader", standalone, "the JobManager needs", fmt.Sprintf(keyFix, "the JobManager")),
				cause("spec.serviceAccount", "mine", retrieval, "the TaskManagers need", specFix),
			},
		},
		"both roles under a chosen spec.serviceAccount: one question, the JobManager's": {
			spec: spec{"serviceAccount": "mine"},
			want: []metav1.StatusCause{cause("spec.serviceAccount", "mine", native, "the JobManager needs", specFix)},
		},
		"keys naming the webhook's account: nothing asked": {
			spec: spec{"serviceAccount": "flink-ha", "conf": spec{"kubernetes.jobmanager.service-account": "flink-ha", "kubernetes.taskmanager.service-account": "flink-ha"}},
		},
		"keys absent under the webhook's account: nothing asked": {
			spec: spec{"serviceAccount": "flink-ha"},
		},
	}
	for name, tc := range cases {
		conf := spec{"high-availability.type": "kubernetes", "high-availability.storageDir": "s3://bucket/ha"}
		fd := spec{"flinkVersion": "v1_20", "flinkConfiguration": conf}
		for k, v := range tc.spec {
			if k == "conf" {
				maps.Copy(conf, v.(spec))
				continue
			}
			fd[k] = v
		}
		raw, err := json.Marshal(spec{"apiVersion": "flink.apache.org/v1beta1", "kind": "FlinkDeployment", "metadata": spec{"name": "orders"}, "spec": fd})
		require.NoError(t, err)
		req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
			Kind:      metav1.GroupVersionKind{Group: "flink.apache.org", Version: "v1beta1", Kind: "FlinkDeployment"},
			Operation: admissionv1.Create, Namespace: "team", Name: "orders", Object: runtime.RawExtension{Raw: raw},
		}}
		resp := handler.Validating(enforce, deniedAll{}).Handle(context.Background(), req)
		if tc.want == nil {
			assert.True(t, resp.Allowed, name)
			assert.Empty(t, resp.Warnings, name)
			continue
		}
		require.False(t, resp.Allowed, name)
		assert.Equal(t, tc.want, resp.Result.Details.Causes, name)
	}
}

package handler_test

import (
	"context"
	"encoding/json"
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

// identities is DefaultIdentities over a map of namespace to annotation.
type identities map[string]string

func (i identities) Identity(namespace string) string { return i[namespace] }

// refusingDefault is an AccessChecker whose authorizer refuses the
// default account everything, or allows it all.
type refusingDefault bool

func (r refusingDefault) Denied(_ context.Context, a validate.Account) ([]validate.Access, error) {
	if bool(r) && a.Name == "default" {
		return a.Needs(), nil
	}
	return nil, nil
}

// TestDefaultAccountsWithAnIdentityKeepFlink: where a namespace's default
// account carries a cloud workload identity, Flink's pods stay under it
// (the provider trusts it by name, so the webhook's account would lose the
// identity), and it is asked about like an account the user chose: held
// back where it may not run HA, made HA where it may.
func TestDefaultAccountsWithAnIdentityKeepFlink(t *testing.T) {
	t.Parallel()
	p, err := policy.Parse([]byte("storageDir: s3://flink-ha/{namespace}/{clusterId}\n"))
	require.NoError(t, err)
	ids := identities{"team": "eks.amazonaws.com/role-arn"}
	request := func(ns string, obj map[string]any) admission.Request {
		raw, err := json.Marshal(obj)
		require.NoError(t, err)
		gvk := metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
		if obj["kind"] == "FlinkDeployment" {
			gvk = metav1.GroupVersionKind{Group: "flink.apache.org", Version: "v1beta1", Kind: "FlinkDeployment"}
		}
		return admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{Kind: gvk, Operation: admissionv1.Create, Namespace: ns,
			Object: runtime.RawExtension{Raw: raw}}}
	}
	type m = map[string]any
	jobManager := m{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": m{"name": "jm"}, "spec": m{"selector": m{}, "template": m{
		"metadata": m{"labels": m{"component": "jobmanager"}},
		"spec": m{"containers": []any{m{"name": "jobmanager", "image": "flink:1.20", "args": []any{"jobmanager"},
			"env": []any{m{"name": "FLINK_PROPERTIES", "value": "kubernetes.cluster-id: jm\n"}}}}}}}}
	flinkDeployment := m{"apiVersion": "flink.apache.org/v1beta1", "kind": "FlinkDeployment", "metadata": m{"name": "orders"},
		"spec": m{"image": "flink:1.20", "flinkVersion": "v1_20"}}
	handlers := func(refused bool) (admission.Handler, admission.Handler) {
		checker := refusingDefault(refused)
		return handler.WithDefaultIdentities(handler.MutatingHoldingBack(p, checker), ids),
			handler.WithDefaultIdentities(handler.Validating(p, checker), ids)
	}
	patched := func(resp admission.Response) map[string]any {
		out := map[string]any{}
		for _, op := range resp.Patches {
			var v any = op.Value
			if raw, ok := op.Value.(json.RawMessage); ok {
				require.NoError(t, json.Unmarshal(raw, &v))
			}
			out[op.Path] = v
		}
		return out
	}

	t.Run("held back under a default account that may not run HA", func(t *testing.T) {
		mutating, validating := handlers(true)
		req := request("team", jobManager)
		resp := mutating.Handle(context.Background(), req)
		assert.True(t, resp.Allowed)
		assert.Empty(t, resp.Patches, "still under default, and without HA")
		assert.Equal(t, []string{"spec.template.spec.serviceAccountName: HA not turned on: account default lacks what HA needs on configmaps"}, resp.Warnings)
		resp = validating.Handle(context.Background(), req)
		assert.True(t, resp.Allowed)
		require.Len(t, resp.Warnings, 1)
		assert.Contains(t, resp.Warnings[0], `spec.template.spec.serviceAccountName: Invalid value: "default": may not get configmaps`)
		assert.Contains(t, resp.Warnings[0], "so HA is not turned on: bind it to a Role that allows it, or name an account of your own "+
			"that the identity of its eks.amazonaws.com/role-arn trusts (the webhook keeps Flink under default, since flink-ha would lose it)")
	})

	t.Run("made HA under a default account that may", func(t *testing.T) {
		mutating, _ := handlers(false)
		req := request("team", jobManager)
		resp := mutating.Handle(context.Background(), req)
		assert.True(t, resp.Allowed)
		ops := patched(resp)
		assert.NotContains(t, ops, "/spec/template/spec/serviceAccountName", "kept under default")
		assert.Contains(t, resp.Warnings, "spec.template.spec.serviceAccountName: kept default, whose eks.amazonaws.com/role-arn flink-ha would not carry")
		assert.NotEmpty(t, ops, "HA keys and the pod IP")

		// The operator requires an account: default, named.
		resp = mutating.Handle(context.Background(), request("team", flinkDeployment))
		assert.True(t, resp.Allowed)
		assert.Equal(t, "default", patched(resp)["/spec/serviceAccount"])
		assert.Contains(t, resp.Warnings, "spec.serviceAccount: set default, whose eks.amazonaws.com/role-arn flink-ha would not carry")
	})

	t.Run("moved to the webhook's account elsewhere", func(t *testing.T) {
		mutating, _ := handlers(true)
		resp := mutating.Handle(context.Background(), request("other", jobManager))
		assert.Equal(t, "flink-ha", patched(resp)["/spec/template/spec/serviceAccountName"])
	})
}

package handler_test

import (
	"context"
	"encoding/json"
	"errors"
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

// deniedPods is an AccessChecker whose authorizer refuses every account
// what it needs on pods only, as for a native cluster's account granted
// ConfigMaps alone.
type deniedPods struct{}

func (deniedPods) Denied(_ context.Context, a validate.Account) ([]validate.Access, error) {
	var out []validate.Access
	for _, n := range a.Needs() {
		if n.Resource == "pods" {
			out = append(out, n)
		}
	}
	return out, nil
}

// TestHAIsHeldBackForAccountsThatCannotRunIt: under checkAccounts: warn
// and mode all, a FlinkDeployment that does not turn HA on itself and runs
// under an account of the user's choosing that may not do what HA needs of
// ConfigMaps is admitted as it is, HA not turned on, and both webhooks say
// why (the validating one, how to fix it): with HA, its JobManager would
// fail at its next start. Where HA is on already, asked for, the account
// may do it, the policy enforces the check or cannot ask, or the object is
// not a FlinkDeployment, nothing is held back.
func TestHAIsHeldBackForAccountsThatCannotRunIt(t *testing.T) {
	t.Parallel()
	parse := func(text string) *policy.Policy {
		p, err := policy.Parse([]byte("storageDir: s3://flink-ha/{namespace}/{clusterId}\n" + text))
		require.NoError(t, err)
		return p
	}
	type spec = map[string]any
	flinkDeployment := func(annotations map[string]string, conf spec) admission.Request {
		meta := spec{"name": "orders"}
		if annotations != nil {
			meta["annotations"] = annotations
		}
		raw, err := json.Marshal(spec{"apiVersion": "flink.apache.org/v1beta1", "kind": "FlinkDeployment", "metadata": meta,
			"spec": spec{"image": "flink:1.20", "flinkVersion": "v1_20", "serviceAccount": "mine", "flinkConfiguration": conf}})
		require.NoError(t, err)
		return admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
			Kind:      metav1.GroupVersionKind{Group: "flink.apache.org", Version: "v1beta1", Kind: "FlinkDeployment"},
			Operation: admissionv1.Create, Namespace: "team", Name: "orders", Object: runtime.RawExtension{Raw: raw},
		}}
	}
	notHA := flinkDeployment(nil, spec{"taskmanager.numberOfTaskSlots": "2"})
	const heldBack = "spec.serviceAccount: HA not turned on: account mine lacks what HA needs on configmaps"

	t.Run("held back", func(t *testing.T) {
		for _, text := range []string{"", "enforcement: warn\n"} {
			p := parse(text)
			resp := handler.MutatingHoldingBack(p, deniedAll{}).Handle(context.Background(), notHA)
			assert.True(t, resp.Allowed)
			assert.Empty(t, resp.Patches, "HA is not turned on")
			assert.Equal(t, []string{heldBack}, resp.Warnings)

			// The validating webhook sees the object as the mutating one
			// left it: HA off, which the policy's requirement of HA does
			// not refuse here.
			resp = handler.Validating(p, deniedAll{}).Handle(context.Background(), notHA)
			assert.True(t, resp.Allowed, "%s: %v", text, resp.Result)
			require.Len(t, resp.Warnings, 1)
			assert.Contains(t, resp.Warnings[0], `spec.serviceAccount: Invalid value: "mine": may not get configmaps, list configmaps, watch configmaps, create configmaps, update configmaps, patch configmaps, delete configmaps, get pods,`)
			assert.Contains(t, resp.Warnings[0], "which the JobManager needs with Flink's HA, so HA is not turned on: bind it to a Role that allows it, "+
				"or leave the account to the webhook (flink-ha); the next change of this FlinkDeployment turns it on")
		}
	})

	t.Run("made HA", func(t *testing.T) {
		haOn := flinkDeployment(nil, spec{"high-availability.type": "kubernetes"})
		askedFor := flinkDeployment(map[string]string{policy.AnnotationHA: "on"}, nil)
		cases := map[string]struct {
			policy  *policy.Policy
			checker handler.AccessChecker
			req     admission.Request
		}{
			"HA already on, only completed":               {parse(""), deniedAll{}, haOn},
			"HA asked for with the annotation":            {parse(""), deniedAll{}, askedFor},
			"an account denied only what pods need":       {parse(""), deniedPods{}, notHA},
			"an authorizer that cannot be asked":          {parse(""), deniedAll{err: errors.New("connection refused")}, notHA},
			"checkAccounts: enforce, which denies":        {parse("checkAccounts: enforce\n"), deniedAll{}, notHA},
			"checkAccounts: off, which asks nothing":      {parse("checkAccounts: off\n"), deniedAll{}, notHA},
			"mode opt-in, which turns nothing on unasked": {parse("mode: opt-in\n"), deniedAll{}, haOn},
		}
		for name, tc := range cases {
			resp := handler.MutatingHoldingBack(tc.policy, tc.checker).Handle(context.Background(), tc.req)
			assert.True(t, resp.Allowed, name)
			assert.NotEmpty(t, resp.Patches, "%s: HA is turned on or completed", name)
			assert.NotContains(t, resp.Warnings, heldBack, name)
			for _, w := range resp.Warnings {
				assert.NotContains(t, w, "HA not turned on", name)
			}
			resp = handler.Validating(tc.policy, tc.checker).Handle(context.Background(), tc.req)
			for _, w := range resp.Warnings {
				assert.NotContains(t, w, "so HA is not turned on", name)
			}
		}
	})

	t.Run("never turned off", func(t *testing.T) {
		// An update of a FlinkDeployment stored with HA (made so while
		// its account could do it) that drops the keys, as an apply of
		// its manifest does, keeps HA: the cluster's jobs recover from
		// its HA state.
		p := parse("")
		update := func(old admission.Request) admission.Request {
			req := notHA
			req.Operation = admissionv1.Update
			req.OldObject = old.Object
			return req
		}
		wasHA := update(flinkDeployment(nil, spec{"high-availability.type": "kubernetes", "high-availability.storageDir": "s3://flink-ha/team/orders"}))
		resp := handler.MutatingHoldingBack(p, deniedAll{}).Handle(context.Background(), wasHA)
		assert.True(t, resp.Allowed)
		assert.NotEmpty(t, resp.Patches, "HA is kept")
		assert.NotContains(t, resp.Warnings, heldBack)
		resp = handler.Validating(p, deniedAll{}).Handle(context.Background(), wasHA)
		for _, w := range resp.Warnings {
			assert.NotContains(t, w, "so HA is not turned on")
		}

		wasNotHA := update(notHA)
		resp = handler.MutatingHoldingBack(p, deniedAll{}).Handle(context.Background(), wasNotHA)
		assert.Empty(t, resp.Patches)
		assert.Equal(t, []string{heldBack}, resp.Warnings)
		resp = handler.Validating(p, deniedAll{}).Handle(context.Background(), wasNotHA)
		assert.True(t, resp.Allowed)
	})

	t.Run("a workload carrying its configuration", func(t *testing.T) {
		raw := []byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"jm"},"spec":{"selector":{},"template":{
			"metadata":{"labels":{"component":"jobmanager"}},
			"spec":{"serviceAccountName":"mine","containers":[{"name":"jobmanager","image":"flink:1.20","args":["jobmanager"],
			"env":[{"name":"FLINK_PROPERTIES","value":"kubernetes.cluster-id: jm\n"}]}]}}}}`)
		req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
			Kind: metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, Operation: admissionv1.Create, Namespace: "team",
			Object: runtime.RawExtension{Raw: raw},
		}}
		p := parse("")
		resp := handler.MutatingHoldingBack(p, deniedAll{}).Handle(context.Background(), req)
		assert.True(t, resp.Allowed)
		assert.Empty(t, resp.Patches, "neither HA keys nor the pod IP")
		assert.Equal(t, []string{"spec.template.spec.serviceAccountName: HA not turned on: account mine lacks what HA needs on configmaps"},
			resp.Warnings)
		resp = handler.Validating(p, deniedAll{}).Handle(context.Background(), req)
		assert.True(t, resp.Allowed)
		require.Len(t, resp.Warnings, 1)
		assert.Contains(t, resp.Warnings[0], "so HA is not turned on: bind it to a Role that allows it, or leave the account to the webhook (flink-ha); "+
			"the next change of this Deployment turns it on")
	})
}

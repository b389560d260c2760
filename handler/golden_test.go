package handler_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	"sigs.k8s.io/yaml"

	"github.com/flink-ha-webhook/flink-ha-webhook/handler"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
)

var update = flag.Bool("update", false, "rewrite testdata/*.out.yaml and *.review from the handlers' output")

// goldenPolicy is the policy of the golden manifests, from the file the
// mutate and inject tests read too.
func goldenPolicy(t testing.TB) *policy.Policy {
	p, err := policy.Load("testdata/policy.yaml")
	require.NoError(t, err)
	return p
}

// GoldenNamespace is the namespace the golden manifests are applied in.
const GoldenNamespace = "analytics"

func documents(t testing.TB, raw []byte) [][]byte {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs
		}
		require.NoError(t, err)
		js, err := yaml.YAMLToJSON(doc)
		require.NoError(t, err)
		if string(js) != "null" {
			docs = append(docs, doc)
		}
	}
}

// admit sends one document through both webhooks as the API server would,
// returning the stored document, the lines kubectl would print, the
// patched JSON and the outcome: "Kind/name: changed", "denied" or
// "untouched", with ", warned" when the user is told something.
func admit(t testing.TB, mutating, validating admission.Handler, doc []byte) (stored []byte, lines []string, patchedJSON []byte, outcome string) {
	js, err := yaml.YAMLToJSON(doc)
	require.NoError(t, err)
	var tm metav1.TypeMeta
	require.NoError(t, json.Unmarshal(js, &tm))
	var om struct {
		Metadata metav1.ObjectMeta `json:"metadata"`
	}
	require.NoError(t, json.Unmarshal(js, &om))
	gv, err := schema.ParseGroupVersion(tm.APIVersion)
	require.NoError(t, err)
	req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID:       "golden",
		Kind:      metav1.GroupVersionKind{Group: gv.Group, Version: gv.Version, Kind: tm.Kind},
		Namespace: GoldenNamespace,
		Name:      om.Metadata.Name,
		Operation: admissionv1.Create,
		Object:    runtime.RawExtension{Raw: js},
	}}
	ctx := context.Background()
	mresp := mutating.Handle(ctx, req)
	require.True(t, mresp.Allowed, "the mutating webhook never denies")
	patched := js
	stored = doc
	if len(mresp.Patches) > 0 {
		raw, err := json.Marshal(mresp.Patches)
		require.NoError(t, err)
		p, err := jsonpatch.DecodePatch(raw)
		require.NoError(t, err)
		patched, err = p.Apply(js)
		require.NoError(t, err)
		stored, err = yaml.JSONToYAML(patched)
		require.NoError(t, err)
	}
	for _, w := range mresp.Warnings {
		lines = append(lines, "Warning: "+w)
	}
	req.Object.Raw = patched
	vresp := validating.Handle(ctx, req)
	for _, w := range vresp.Warnings {
		lines = append(lines, "Warning: "+w)
	}
	outcome = "untouched"
	if len(mresp.Patches) > 0 {
		outcome = "changed"
	}
	if !vresp.Allowed {
		outcome = "denied"
		require.NotNil(t, vresp.Result.Details, "a denial names its fields")
		assert.Equal(t, int32(422), vresp.Result.Code)
		for _, c := range vresp.Result.Details.Causes {
			lines = append(lines, fmt.Sprintf("error: %s %q is invalid: %s: %s", tm.Kind, om.Metadata.Name, c.Field, c.Message))
		}
	}
	if len(mresp.Warnings)+len(vresp.Warnings) > 0 {
		outcome += ", warned"
	}
	return stored, lines, patched, fmt.Sprintf("%s/%s: %s", tm.Kind, om.Metadata.Name, outcome)
}

// TestGoldenManifests applies testdata/*.in.yaml through the webhooks and
// compares what would be stored with *.out.yaml, what kubectl would print
// with *.review and each object's outcome (changed, denied, untouched) with
// *.outcome, which other checks of the webhook, such as its configurations'
// matchConditions, must agree with. Every object admitted again must get no
// patch.
func TestGoldenManifests(t *testing.T) {
	p := goldenPolicy(t)
	mutating, validating := handler.Mutating(p), handler.Validating(p, nil)
	ins, err := filepath.Glob("testdata/*.in.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, ins)
	for _, in := range ins {
		base := strings.TrimSuffix(in, ".in.yaml")
		t.Run(filepath.Base(base), func(t *testing.T) {
			raw, err := os.ReadFile(in)
			require.NoError(t, err)
			var out [][]byte
			var review, outcomes []string
			for _, doc := range documents(t, raw) {
				stored, lines, patched, outcome := admit(t, mutating, validating, doc)
				out, review, outcomes = append(out, stored), append(review, lines...), append(outcomes, outcome)

				again := admission.Request{}
				again.Kind, again.Namespace, again.Operation = kindOf(t, patched), GoldenNamespace, admissionv1.Update
				again.Object.Raw = patched
				resp := mutating.Handle(context.Background(), again)
				assert.Empty(t, resp.Patches, "a second pass must yield no patch")
			}
			gotOut := bytes.Join(out, []byte("---\n"))
			gotReview := ""
			if len(review) > 0 {
				gotReview = strings.Join(review, "\n") + "\n"
			}
			gotOutcome := strings.Join(outcomes, "\n") + "\n"
			if *update {
				require.NoError(t, os.WriteFile(base+".out.yaml", gotOut, 0o644))
				require.NoError(t, os.WriteFile(base+".review", []byte(gotReview), 0o644))
				require.NoError(t, os.WriteFile(base+".outcome", []byte(gotOutcome), 0o644))
			}
			want, err := os.ReadFile(base + ".out.yaml")
			require.NoError(t, err, "run go test ./handler -update")
			assert.Equal(t, string(want), string(gotOut))
			want, err = os.ReadFile(base + ".review")
			require.NoError(t, err)
			assert.Equal(t, string(want), gotReview)
			want, err = os.ReadFile(base + ".outcome")
			require.NoError(t, err)
			assert.Equal(t, string(want), gotOutcome)
		})
	}
}

// TestGoldenFilesHaveTheirCases finds stale golden files, here and in the
// mutate package's ConfigMap cases: every output belongs to a case, and
// every case has all its outputs.
func TestGoldenFilesHaveTheirCases(t *testing.T) {
	assertGoldenSet(t, "testdata", []string{".out.yaml", ".review", ".outcome"}, "policy.yaml", "stored")
	assertGoldenSet(t, "../mutate/testdata/configmap", []string{".out.yaml", ".review"})
}

// assertGoldenSet checks that each NAME.in.yaml in dir has NAME+ext for
// every ext of outputs, and that every other file is such an output or one
// of keep.
func assertGoldenSet(t *testing.T, dir string, outputs []string, keep ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	have := map[string]bool{}
	for _, e := range entries {
		have[e.Name()] = true
	}
	for name := range have {
		if base, ok := strings.CutSuffix(name, ".in.yaml"); ok {
			for _, ext := range outputs {
				assert.True(t, have[base+ext], "case %s has no %s: run go test -update", name, base+ext)
			}
			continue
		}
		stale := !slices.Contains(keep, name)
		for _, ext := range outputs {
			if base, ok := strings.CutSuffix(name, ext); ok && have[base+".in.yaml"] {
				stale = false
			}
		}
		assert.False(t, stale, "%s belongs to no case: remove it", filepath.Join(dir, name))
	}
}

func kindOf(t testing.TB, js []byte) metav1.GroupVersionKind {
	var tm metav1.TypeMeta
	require.NoError(t, json.Unmarshal(js, &tm))
	gv, err := schema.ParseGroupVersion(tm.APIVersion)
	require.NoError(t, err)
	return metav1.GroupVersionKind{Group: gv.Group, Version: gv.Version, Kind: tm.Kind}
}

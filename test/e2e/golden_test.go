package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
	"github.com/flink-ha-webhook/flink-ha-webhook/recognise"
)

// goldenObject is one object of a golden case of the handler or mutate
// package, with the outcome the case's own files expect for it.
type goldenObject struct {
	Case string // the case's file name without .in.yaml
	In   *unstructured.Unstructured
	// Changed: the webhook changes the object (the case's stored output
	// differs from its input, or its review lists a mutation).
	Changed bool
	// Denied: the webhook refuses the object (its review lists an error).
	Denied bool
	// Exempt: the case's namespace is exempt under the cases' policy, so
	// its outcome says nothing about the rules.
	Exempt bool
}

func (o goldenObject) String() string {
	return fmt.Sprintf("%s: %s %q", o.Case, o.In.GetKind(), o.In.GetName())
}

// goldenObjects reads every golden case of handler/testdata (several
// objects per file; the outcome from *.out.yaml and *.review) and of
// mutate/testdata/configmap (one ConfigMap per file; the outcome from the
// mutate: and deny: lines of *.review). Cases added or changed later are
// read the same way.
func goldenObjects(t *testing.T) (all []goldenObject) {
	p, err := policy.Load("../../handler/testdata/policy.yaml")
	require.NoError(t, err)
	defer func() {
		for i := range all {
			all[i].Exempt = p.Exempt(all[i].In.GetNamespace())
		}
	}()
	ins, err := filepath.Glob("../../handler/testdata/*.in.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, ins)
	for _, in := range ins {
		base := strings.TrimSuffix(in, ".in.yaml")
		docs, outs := yamlDocuments(t, in), yamlDocuments(t, base+".out.yaml")
		require.Len(t, outs, len(docs), "%s: one stored object per object applied", base)
		review := readFile(t, base+".review")
		for i, doc := range docs {
			o := goldenObject{Case: filepath.Base(base), In: doc}
			o.Changed = !reflect.DeepEqual(doc.Object, outs[i].Object)
			o.Denied = strings.Contains(review, fmt.Sprintf("error: %s %q is invalid:", doc.GetKind(), doc.GetName()))
			all = append(all, o)
		}
	}
	ins, err = filepath.Glob("../../mutate/testdata/configmap/*.in.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, ins)
	for _, in := range ins {
		base := strings.TrimSuffix(in, ".in.yaml")
		docs := yamlDocuments(t, in)
		require.Len(t, docs, 1, in)
		review := "\n" + readFile(t, base+".review")
		all = append(all, goldenObject{Case: "configmap/" + filepath.Base(base), In: docs[0],
			Changed: strings.Contains(review, "\nmutate: "), Denied: strings.Contains(review, "\ndeny: ")})
	}
	return all
}

func readFile(t *testing.T, path string) string {
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(raw)
}

func yamlDocuments(t *testing.T, path string) []*unstructured.Unstructured {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader([]byte(readFile(t, path)))))
	var docs []*unstructured.Unstructured
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs
		}
		require.NoError(t, err, path)
		js, err := yaml.YAMLToJSON(doc)
		require.NoError(t, err, path)
		if string(js) == "null" {
			continue
		}
		u := &unstructured.Unstructured{}
		require.NoError(t, u.UnmarshalJSON(js), path)
		docs = append(docs, u)
	}
}

// webhookSet is which of this project's webhooks the API server may send
// one kind of object to.
type webhookSet struct {
	resource   schema.GroupVersionResource
	mutating   []string
	validating []string
	// account reads the account the object's Flink pods run under.
	account func(*unstructured.Unstructured) string
}

func podAccount(u *unstructured.Unstructured) string {
	s, _, _ := unstructured.NestedString(u.Object, "spec", "template", "spec", "serviceAccountName")
	return s
}

// webhooksFor lists, by kind, the webhooks of manifests/webhook; a kind not
// listed is in none of their rules.
var webhooksFor = map[schema.GroupKind]webhookSet{
	{Kind: "ConfigMap"}: {resource: corev1.SchemeGroupVersion.WithResource("configmaps"),
		mutating: []string{"ha-configmaps.webhook.flink-ha", "flink-config.webhook.flink-ha"}, validating: []string{"flink-config.webhook.flink-ha"}},
	{Group: "apps", Kind: "Deployment"}: {resource: appsv1.SchemeGroupVersion.WithResource("deployments"),
		mutating: []string{"flink-workloads.webhook.flink-ha"}, validating: []string{"flink-workloads.webhook.flink-ha"}, account: podAccount},
	{Group: "apps", Kind: "StatefulSet"}: {resource: appsv1.SchemeGroupVersion.WithResource("statefulsets"),
		mutating: []string{"flink-workloads.webhook.flink-ha"}, validating: []string{"flink-workloads.webhook.flink-ha"}, account: podAccount},
	{Group: "batch", Kind: "Job"}: {resource: batchv1.SchemeGroupVersion.WithResource("jobs"),
		mutating: []string{"flink-workloads.webhook.flink-ha"}, validating: []string{"flink-workloads.webhook.flink-ha"}, account: podAccount},
	{Group: "flink.apache.org", Kind: "FlinkDeployment"}: {resource: schema.GroupVersionResource{Group: "flink.apache.org", Version: "v1beta1", Resource: "flinkdeployments"},
		mutating: []string{"flinkdeployments.webhook.flink-ha"}, validating: []string{"flinkdeployments.webhook.flink-ha"},
		account: func(u *unstructured.Unstructured) string {
			s, _, _ := unstructured.NestedString(u.Object, "spec", "serviceAccount")
			return s
		}},
}

// recognisedBy says which webhooks the Go package recognise makes an
// object the business of, by webhook name: the recognition the CEL
// matchConditions express.
func recognisedBy(t *testing.T, u *unstructured.Unstructured) map[string]bool {
	js, err := u.MarshalJSON()
	require.NoError(t, err)
	decode := func(into any) { require.NoError(t, json.Unmarshal(js, into)) }
	switch u.GroupVersionKind().GroupKind() {
	case schema.GroupKind{Kind: "ConfigMap"}:
		cm := &corev1.ConfigMap{}
		decode(cm)
		_, ha := recognise.HAConfigMap(cm.Name, cm.Labels)
		return map[string]bool{
			"ha-configmaps.webhook.flink-ha": ha && len(cm.OwnerReferences) > 0,
			"flink-config.webhook.flink-ha":  len(recognise.ConfigKeys(cm)) > 0,
		}
	case schema.GroupKind{Group: "apps", Kind: "Deployment"}, schema.GroupKind{Group: "apps", Kind: "StatefulSet"}, schema.GroupKind{Group: "batch", Kind: "Job"}:
		var w struct {
			Metadata struct {
				Labels map[string]string `json:"labels"`
			} `json:"metadata"`
			Spec struct {
				Template corev1.PodTemplateSpec `json:"template"`
			} `json:"spec"`
		}
		decode(&w)
		_, ok := recognise.PodTemplate(w.Metadata.Labels, &w.Spec.Template)
		return map[string]bool{"flink-workloads.webhook.flink-ha": ok}
	case schema.GroupKind{Group: "flink.apache.org", Kind: "FlinkDeployment"}:
		return map[string]bool{"flinkdeployments.webhook.flink-ha": true}
	}
	return nil
}

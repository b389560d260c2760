package handler_test

import (
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/flink-ha-webhook/flink-ha-webhook/handler"
)

var fuzzKinds = []schema.GroupKind{
	{Kind: "ConfigMap"}, {Group: "apps", Kind: "Deployment"}, {Group: "apps", Kind: "StatefulSet"},
	{Group: "batch", Kind: "Job"}, handler.FlinkDeploymentKind,
}

// FuzzRun feeds arbitrary objects of every kind through the rules: whatever
// the bytes, Run returns a verdict or an error, never a panic, and the
// mutated object passes through the rules again without a change.
func FuzzRun(f *testing.F) {
	paths, _ := filepath.Glob("testdata/*.in.yaml")
	for _, path := range paths {
		raw, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		for _, doc := range documents(f, raw) {
			js, err := yaml.YAMLToJSON(doc)
			if err != nil {
				f.Fatal(err)
			}
			for k := range fuzzKinds {
				f.Add(uint8(k), js)
			}
		}
	}
	p := goldenPolicy(f)
	f.Fuzz(func(t *testing.T, k uint8, raw []byte) {
		gk := fuzzKinds[int(k)%len(fuzzKinds)]
		r, err := handler.Run(gk, raw, "team", p, handler.Phases{Mutate: true, Validate: true})
		if err != nil || r == nil {
			return
		}
		again, err := handler.Run(gk, r.After, "team", p, handler.Phases{Mutate: true})
		if err != nil {
			t.Fatalf("the rules' own output does not decode: %v", err)
		}
		if len(again.Mutation.Changes) > 0 {
			t.Fatalf("a second pass changed %v\nfirst: %s\nafter: %s", again.Mutation.Changes, raw, r.After)
		}
	})
}

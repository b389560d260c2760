package handler_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
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

// FuzzPatch: for any two JSON objects (what Kubernetes objects are), the
// patch Patch makes turns the first into the second.
func FuzzPatch(f *testing.F) {
	f.Add([]byte(`{"args":["jobmanager","a"]}`), []byte(`{"args":["jobmanager","$(POD_IP)","a"]}`))
	f.Add([]byte(`{"a":[1,[2,3],{"b":"~/"}]}`), []byte(`{"a":[[2],{"b":"/~"},1],"c":null}`))
	f.Add([]byte(`{"l":[1,2,3]}`), []byte(`{"x":"\u00e9\""}`))
	// An empty key on the way to a change: the pointer "//0" goes through
	// the key "", as the API server reads it (json-patch v4; v5 does not).
	f.Add([]byte(`{"":["a"]}`), []byte(`{"":[]}`))
	f.Add([]byte(`{"x":{"":{"y":[1,2]}}}`), []byte(`{"x":{"":{"y":[2]}}}`))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		// Patch takes documents as json.Marshal writes them.
		var av, bv any
		if json.Unmarshal(a, &av) != nil || json.Unmarshal(b, &bv) != nil {
			return
		}
		if _, ok := av.(map[string]any); !ok {
			return
		}
		if _, ok := bv.(map[string]any); !ok {
			return
		}
		before, _ := json.Marshal(av)
		after, _ := json.Marshal(bv)
		ops, err := handler.Patch(before, after)
		if err != nil {
			t.Fatalf("Patch(%s, %s): %v", before, after, err)
		}
		if len(ops) == 0 {
			if !bytes.Equal(before, after) {
				t.Fatalf("no patch from %s to %s", before, after)
			}
			return
		}
		raw, err := json.Marshal(ops)
		if err != nil {
			t.Fatal(err)
		}
		p, err := jsonpatch.DecodePatch(raw)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		got, err := p.Apply(before)
		if err != nil {
			t.Fatalf("applying %s to %s: %v", raw, before, err)
		}
		var gv any
		if err := json.Unmarshal(got, &gv); err != nil {
			t.Fatal(err)
		}
		if g, _ := json.Marshal(gv); !bytes.Equal(g, after) {
			t.Fatalf("%s patched with %s gives %s, not %s", before, raw, g, after)
		}
	})
}

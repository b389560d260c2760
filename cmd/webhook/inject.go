package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	gomodulesjsonpatch "gomodules.xyz/jsonpatch/v2"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/flink-ha-webhook/flink-ha-webhook/fleet"
	"github.com/flink-ha-webhook/flink-ha-webhook/handler"
	"github.com/flink-ha-webhook/flink-ha-webhook/nspolicy"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
)

func inject(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("inject", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("f", "-", "manifest file, directory of *.yaml, *.yml and *.json files, or - for standard input")
	policyPath := fs.String("policy", "", "policy file, as given to serve, and FlinkHAPolicy documents, as applied to the cluster; without one the default policy")
	namespace := fs.String("namespace", "default", "namespace of objects that name none, as kubectl apply -n would give them")
	namespaceLabels := fs.String("namespace-labels", "", "labels of the objects' namespaces (k=v,k2=v2), which pick their FlinkHAPolicy")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	p, err := namespacePolicy(*policyPath, *namespaceLabels)
	if err != nil {
		fmt.Fprintf(stderr, "flink-ha-webhook: %v\n", err)
		return 2
	}
	in, err := readInputs(*file, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "flink-ha-webhook: %v\n", err)
		return 2
	}
	res, err := injectDocs(in, p, *namespace)
	for _, m := range res.messages {
		fmt.Fprintln(stderr, m)
	}
	if err != nil {
		fmt.Fprintf(stderr, "flink-ha-webhook: %v\n", err)
		return 2
	}
	if _, err := stdout.Write(res.out); err != nil {
		return 2
	}
	if res.denied {
		return 1
	}
	return 0
}

// namespacePolicy reads the policy documents at path and picks the policy
// of a namespace with the given labels.
func namespacePolicy(path, namespaceLabels string) (*policy.Policy, error) {
	set, err := nspolicy.Load(path)
	if err != nil {
		return nil, err
	}
	ls, err := labels.ConvertSelectorToLabelsMap(namespaceLabels)
	if err != nil {
		return nil, fmt.Errorf("--namespace-labels %q: want k=v,k2=v2: %w", namespaceLabels, err)
	}
	p, _, err := set.For(ls)
	return p, err
}

// injected is what injectDocs makes of a stream of manifests.
type injected struct {
	out      []byte   // the documents as they would be stored
	messages []string // what the API server would print: warnings, denials
	changes  int      // how many changes the mutating rules made
	denied   bool
}

// readInputs concatenates the manifests named by -f as one YAML stream.
func readInputs(name string, stdin io.Reader) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(stdin)
	}
	fi, err := os.Stat(name)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return os.ReadFile(name)
	}
	entries, err := os.ReadDir(name)
	if err != nil {
		return nil, err
	}
	var all bytes.Buffer
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if e.IsDir() || (ext != ".yaml" && ext != ".yml" && ext != ".json") {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(name, e.Name()))
		if err != nil {
			return nil, err
		}
		all.WriteString("\n---\n")
		all.Write(raw)
	}
	return all.Bytes(), nil
}

// injectDocs runs every document through the webhook's rules, as the API
// server would on kubectl apply.
func injectDocs(in []byte, p *policy.Policy, namespace string) (injected, error) {
	var res injected
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(in)))
	var docs [][]byte
	var objs []metav1.Object // the Flink objects as stored, for the collision check
	for n := 1; ; n++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return res, fmt.Errorf("document %d: %w", n, err)
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		stored, obj, msgs, changes, deny, err := injectDoc(doc, p, namespace)
		if err != nil {
			return res, fmt.Errorf("document %d: %w", n, err)
		}
		if obj != nil {
			objs = append(objs, obj)
		}
		docs = append(docs, stored)
		res.messages = append(res.messages, msgs...)
		res.changes += changes
		res.denied = res.denied || deny
	}
	res.out = bytes.Join(docs, []byte("---\n"))
	for _, c := range fleet.Collisions(fleet.IdentifyAll(objs)) {
		if p.Enforcement == policy.Enforce {
			res.messages = append(res.messages, "error: "+c.Message())
			res.denied = true
		} else {
			res.messages = append(res.messages, "Warning: "+c.Message())
		}
	}
	return res, nil
}

func stripComments(doc []byte) []byte {
	var b bytes.Buffer
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			b.Write(line)
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// injectDoc runs one document through the rules; obj is the object as
// stored, decoded as the rules decode it, or nil for a kind they leave alone.
func injectDoc(doc []byte, p *policy.Policy, namespace string) (stored []byte, obj metav1.Object, msgs []string, changes int, denied bool, err error) {
	js, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return nil, nil, nil, 0, false, err
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(js, &tm); err != nil {
		return nil, nil, nil, 0, false, fmt.Errorf("not a Kubernetes object: %w", err)
	}
	gv, err := schema.ParseGroupVersion(tm.APIVersion)
	if err != nil {
		return nil, nil, nil, 0, false, err
	}
	gk := schema.GroupKind{Group: gv.Group, Kind: tm.Kind}
	r, err := handler.Run(gk, js, namespace, p, handler.Phases{Mutate: true, Validate: true})
	if err != nil || r == nil {
		return doc, nil, nil, 0, false, err // a kind the webhook leaves alone passes through as written
	}
	obj = r.Object // after the mutating rules: what the stored document decodes to
	changes = len(r.Mutation.Changes)
	for _, w := range r.Mutation.Warnings() {
		msgs = append(msgs, "Warning: "+w)
	}
	for _, w := range r.Warnings {
		msgs = append(msgs, "Warning: "+w)
	}
	denied = len(r.Errors) > 0 && p.Enforcement == policy.Enforce
	for _, e := range r.Errors {
		if denied {
			msgs = append(msgs, fmt.Sprintf("error: %s %q is invalid: %v", gk.Kind, r.Name, e))
		} else {
			msgs = append(msgs, "Warning: "+e.Error())
		}
	}
	if changes == 0 {
		return doc, obj, msgs, 0, denied, nil
	}
	// Apply the webhook's own patch to the document as written, so fields
	// the rules do not know are kept as the API server would keep them.
	ops, err := gomodulesjsonpatch.CreatePatch(r.Before, r.After)
	if err != nil {
		return nil, obj, msgs, changes, denied, err
	}
	raw, err := json.Marshal(ops)
	if err != nil {
		return nil, obj, msgs, changes, denied, err
	}
	patch, err := jsonpatch.DecodePatch(raw)
	if err != nil {
		return nil, obj, msgs, changes, denied, err
	}
	patched, err := patch.Apply(js)
	if err != nil {
		return nil, obj, msgs, changes, denied, fmt.Errorf("applying the webhook's patch: %w", err)
	}
	stored, err = yaml.JSONToYAML(patched)
	return stored, obj, msgs, changes, denied, err
}

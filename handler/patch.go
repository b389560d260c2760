package handler

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gomodules.xyz/jsonpatch/v2"
)

// Patch returns the JSON patch that turns the JSON document before into
// after. Lists are compared from both ends, so an element inserted into or
// removed from a list is one operation, whatever its length: an index-wise
// comparison would rewrite every later element (inserting one argument
// before 100,000 others made a 9 MB patch). Time and size are linear in the
// documents.
func Patch(before, after []byte) ([]jsonpatch.Operation, error) {
	if bytes.Equal(before, after) {
		return nil, nil
	}
	a, err := decodeNumbers(before)
	if err != nil {
		return nil, fmt.Errorf("decoding the object before the rules: %w", err)
	}
	b, err := decodeNumbers(after)
	if err != nil {
		return nil, fmt.Errorf("decoding the object after the rules: %w", err)
	}
	return diff(nil, "", a, b), nil
}

// decodeNumbers decodes JSON keeping numbers as written, so that a patch
// never turns 10000000000000001 into 1e16.
func decodeNumbers(raw []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// pointerEscaper escapes a key for a JSON pointer (RFC 6901).
var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

func diff(ops []jsonpatch.Operation, path string, a, b any) []jsonpatch.Operation {
	switch a := a.(type) {
	case map[string]any:
		if b, ok := b.(map[string]any); ok {
			return diffObjects(ops, path, a, b)
		}
	case []any:
		if b, ok := b.([]any); ok {
			return diffLists(ops, path, a, b)
		}
	}
	if reflect.DeepEqual(a, b) {
		return ops
	}
	return append(ops, jsonpatch.Operation{Operation: "replace", Path: path, Value: b})
}

func diffObjects(ops []jsonpatch.Operation, path string, a, b map[string]any) []jsonpatch.Operation {
	// Sorted keys make the patch the same for the same change every time.
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		p := path + "/" + pointerEscaper.Replace(k)
		av, inA := a[k]
		bv, inB := b[k]
		switch {
		case !inB:
			ops = append(ops, jsonpatch.Operation{Operation: "remove", Path: p})
		case !inA:
			ops = append(ops, jsonpatch.Operation{Operation: "add", Path: p, Value: bv})
		default:
			ops = diff(ops, p, av, bv)
		}
	}
	return ops
}

// diffLists keeps the longest common head and tail of the two lists and
// compares what lies between element by element; what one side has more is
// added or removed there. Operations apply in order, so indices are those of
// the list as the earlier operations left it.
func diffLists(ops []jsonpatch.Operation, path string, a, b []any) []jsonpatch.Operation {
	head := 0
	for head < len(a) && head < len(b) && reflect.DeepEqual(a[head], b[head]) {
		head++
	}
	tail := 0
	for tail < len(a)-head && tail < len(b)-head && reflect.DeepEqual(a[len(a)-1-tail], b[len(b)-1-tail]) {
		tail++
	}
	am, bm := a[head:len(a)-tail], b[head:len(b)-tail]
	common := min(len(am), len(bm))
	for i := range common {
		ops = diff(ops, path+"/"+strconv.Itoa(head+i), am[i], bm[i])
	}
	at := path + "/" + strconv.Itoa(head+common)
	for range len(am) - common {
		ops = append(ops, jsonpatch.Operation{Operation: "remove", Path: at})
	}
	for i, v := range bm[common:] {
		ops = append(ops, jsonpatch.Operation{Operation: "add", Path: path + "/" + strconv.Itoa(head+common+i), Value: v})
	}
	return ops
}

package flinkconf

import (
	"encoding/json"
	"fmt"
	"iter"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Object is a FlinkDeployment's spec.flinkConfiguration as decoded JSON: a
// flat map of strings (operator 1.12 and older) or any nested object
// (operator 1.13 and later), flattened with '.' and with lists joined by ';'.
type Object struct {
	// Legacy marks a configuration the operator writes out as
	// flink-conf.yaml (Flink before 1.19), where a key may be both a value
	// and the prefix of others ("high-availability" beside
	// "high-availability.storageDir"), as it may in that format.
	Legacy bool

	index
	m map[string]any
}

// ParseObject reads a decoded flinkConfiguration. The map is deep-copied:
// edits never touch the caller's.
func ParseObject(m map[string]any) (*Object, error) {
	cp, err := copyJSON(m, 0)
	if err != nil {
		return nil, err
	}
	o := &Object{m: cp.(map[string]any)}
	if o.m == nil {
		o.m = map[string]any{}
	}
	if err := o.parse(); err != nil {
		return nil, err
	}
	return o, nil
}

func copyJSON(v any, depth int) (any, error) {
	if depth > maxDepth {
		return nil, &ParseError{Msg: fmt.Sprintf("flinkConfiguration nests deeper than %d levels", maxDepth)}
	}
	switch v := v.(type) {
	case map[string]any:
		if v == nil {
			return map[string]any(nil), nil
		}
		out := make(map[string]any, len(v))
		return out, copyEach(maps.All(v), depth, func(k string, c any) { out[k] = c })
	case []any:
		out := make([]any, len(v))
		return out, copyEach(slices.All(v), depth, func(i int, c any) { out[i] = c })
	case nil, string, bool, float64, json.Number, int, int32, int64:
		return v, nil
	default:
		return nil, &ParseError{Msg: fmt.Sprintf("flinkConfiguration holds a %T, which JSON cannot", v)}
	}
}

// copyEach deep-copies the values of a map or a list, handing each copy to
// set.
func copyEach[K any](all iter.Seq2[K, any], depth int, set func(K, any)) error {
	for k, x := range all {
		c, err := copyJSON(x, depth+1)
		if err != nil {
			return err
		}
		set(k, c)
	}
	return nil
}

func (o *Object) parse() error {
	o.reset(0)
	b := newBudget()
	return o.flatten(o.m, nil, &b)
}

// flatten walks keys in sorted order so that results, and which of two
// colliding spellings wins, are the same on every run.
func (o *Object) flatten(m map[string]any, path []string, b *budget) error {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		p := append(slices.Clip(path), k)
		v := m[k]
		if sub, ok := v.(map[string]any); ok {
			if err := o.flatten(sub, p, b); err != nil {
				return err
			}
			continue
		}
		if v == nil {
			continue
		}
		size := len(p) - 1
		for _, s := range p {
			size += len(s)
		}
		if err := b.spendBytes(size, 0); err != nil {
			err.(*ParseError).Msg = "flinkConfiguration " + err.(*ParseError).Msg
			return err
		}
		key := strings.Join(p, ".")
		if prev, ok := o.find(key); ok {
			o.warn(0, "%s is set both as %s and as %s; which one the operator uses is not defined",
				excerpt(key), clip(pathString(o.entries[prev].Path), maxExcerpt), clip(pathString(p), maxExcerpt))
		}
		o.add(Entry{Key: key, Value: jsonString(v), Arg: -1, Path: p})
	}
	return nil
}

func pathString(p []string) string { return "[" + strings.Join(p, "][") + "]" }

func jsonString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1e15 {
			return strconv.FormatInt(int64(v), 10)
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	case json.Number:
		return v.String()
	case int:
		return strconv.Itoa(v)
	case int32:
		return strconv.FormatInt(int64(v), 10)
	case int64:
		return strconv.FormatInt(v, 10)
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = jsonString(x)
		}
		return strings.Join(parts, ";")
	case map[string]any:
		parts := make([]string, 0, len(v))
		for _, k := range slices.Sorted(maps.Keys(v)) {
			parts = append(parts, k+":"+jsonString(v[k]))
		}
		return strings.Join(parts, ",")
	}
	return ""
}

// Format implements Source.
func (o *Object) Format() Format { return FormatObject }

// Map returns the current configuration.
func (o *Object) Map() map[string]any { return o.m }

// Set implements Source. A present key is overwritten where it is, as a
// string; a new key goes into the nested object that already holds its
// prefix, else at the top as a flat key.
func (o *Object) Set(key, value string) (bool, error) {
	if key == "" {
		return false, &EditError{Key: key, Msg: "the key is empty"}
	}
	if i, ok := o.find(key); ok {
		e := o.entries[i]
		if e.Value == value {
			return false, nil // a number or list that reads as value stays as written
		}
		o.put(e.Path, value)
		return true, o.parse()
	}
	for _, e := range o.entries {
		if !o.Legacy && overlaps(e.Key, key) {
			return false, &EditError{Key: key, Msg: fmt.Sprintf("%q is a value; a nested flinkConfiguration cannot hold %q beside it", e.Key, key)}
		}
	}
	m, rest := o.m, key
	for {
		var next map[string]any
		best := ""
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok && len(k) > len(best) && strings.HasPrefix(rest, k+".") {
				next, best = sub, k
			}
		}
		if next == nil {
			break
		}
		m, rest = next, rest[len(best)+1:]
	}
	m[rest] = value
	return true, o.parse()
}

func (o *Object) put(path []string, value any) {
	m := o.m
	for _, p := range path[:len(path)-1] {
		m = m[p].(map[string]any)
	}
	m[path[len(path)-1]] = value
}

// Delete implements Source.
func (o *Object) Delete(key string) (bool, error) {
	if _, ok := o.find(key); !ok {
		return false, nil
	}
	for _, e := range o.entries {
		if e.Key == key {
			m := o.m
			for _, p := range e.Path[:len(e.Path)-1] {
				m = m[p].(map[string]any)
			}
			delete(m, e.Path[len(e.Path)-1])
		}
	}
	return true, o.parse()
}

package flinkconf

import (
	"fmt"
	"strings"
)

// flatKey is a flattened key: buf[start:end], or its pair's own key when
// start is -1 (a top-level key).
type flatKey struct {
	start, end int
	pair       int32
	viaAlias   bool
}

// flattener turns the tree into Flink's dotted keys, writing every nested
// key into one buffer.
type flattener struct {
	s      *Standard
	budget *budget
	buf    []byte
	flat   []flatKey
	nested bool // some key is under a nested mapping
	dotted bool // some key is written with a dot
}

// walk flattens mapping mi under the prefix buf[ps:pe] (none when ps < 0).
func (f *flattener) walk(mi int32, ps, pe, depth int, viaAlias bool) error {
	s := f.s
	if depth > maxDepth {
		return &ParseError{Line: s.pairs[s.maps[mi].first].keyLine, Msg: fmt.Sprintf("nests deeper than %d levels", maxDepth)}
	}
	m := s.maps[mi]
	var seen map[string]int32 // only for large mappings; small ones are scanned
	if m.count > 16 {
		seen = make(map[string]int32, m.count)
	}
	for pi := m.first; pi >= 0; pi = s.pairs[pi].next {
		p := &s.pairs[pi]
		if err := f.budget.spendNodes(1, p.keyLine); err != nil {
			return err
		}
		if first := s.findDuplicate(m, pi, seen); first >= 0 {
			return &ParseError{Line: p.keyLine, Msg: fmt.Sprintf("duplicate key %s (first on line %d); Flink rejects duplicate keys: keep one", excerpt(p.key), s.pairs[first].keyLine)}
		}
		if p.val.kind == valNull {
			continue // Flink reads no value
		}
		f.nested = f.nested || ps >= 0
		f.dotted = f.dotted || strings.IndexByte(p.key, '.') >= 0
		start, end := -1, -1
		if ps >= 0 || p.val.kind == valMap {
			if err := f.budget.spendBytes(pe-ps+1+len(p.key), p.keyLine); err != nil {
				return err
			}
			start = len(f.buf)
			if ps >= 0 {
				f.buf = append(f.buf, f.buf[ps:pe]...)
				f.buf = append(f.buf, '.')
			}
			f.buf = append(f.buf, p.key...)
			end = len(f.buf)
		}
		if p.val.kind == valMap {
			if err := f.walk(p.val.m, start, end, depth+1, viaAlias || p.val.alias); err != nil {
				return err
			}
			continue
		}
		if ps < 0 {
			start = -1 // a top-level key is its pair's key
		}
		f.flat = append(f.flat, flatKey{start: start, end: end, pair: pi, viaAlias: viaAlias})
	}
	return nil
}

// findDuplicate returns the earlier pair of m with pair pi's key, or -1.
func (s *Standard) findDuplicate(m stdMap, pi int32, seen map[string]int32) int32 {
	key := s.pairs[pi].key
	if seen != nil {
		if first, dup := seen[key]; dup {
			return first
		}
		seen[key] = pi
		return -1
	}
	for qi := m.first; qi != pi; qi = s.pairs[qi].next {
		if s.pairs[qi].key == key {
			return qi
		}
	}
	return -1
}

package flinkconf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"
)

// Limits that keep hostile YAML bounded in time and memory.
const (
	maxDepth = 64      // nested mappings and sequences
	maxNodes = 100_000 // nodes visited while flattening, aliases expanded
)

// Standard is configuration in the standard config.yaml format of Flink
// 1.19 and later: YAML 1.2 whose nested mappings flatten into dotted keys.
// Duplicate keys in one mapping are an error, as in Flink; a key reached
// twice through different nesting is a Warning and the later one wins.
//
// Parsing takes a fast path for the block-style YAML that configuration
// files are written in (block mappings, one-line scalars, comments) and
// hands anything else to a full YAML parser; both build the same compact
// tree, from which entries are flattened and edits are planned.
type Standard struct {
	src      []byte
	text     string
	lines    []int // byte offset of each line's start
	maps     []stdMap
	pairs    []stdPair
	root     int32 // index into maps, -1 for an empty document
	entries  []Entry
	refs     []stdRef // parallel to entries
	last     map[string]int
	warnings []Warning

	// The arenas of the tree before the last edit, reused by the next one.
	sparePairs []stdPair
	spareMaps  []stdMap
}

type stdMap struct {
	flow        bool
	first, last int32 // pair indices, -1 when empty
	count       int
}

type stdPair struct {
	next      int32 // next pair of the same mapping, -1 for none
	parent    int32 // the mapping holding it
	key       string
	keyLine   int
	keyOff    int // byte offset of the key
	keyTagged bool
	val       stdValue
}

type valueKind uint8

const (
	valScalar valueKind = iota // a scalar, or a sequence rendered as one
	valMap
	valNull
)

type valueStyle uint8

const (
	stylePlain valueStyle = iota
	styleSingle
	styleDouble
	styleOther // block scalars, tagged values, aliases, sequences: rewritten whole
)

// scalarTag is the YAML type of a plain scalar, as far as edits care.
type scalarTag uint8

const (
	tagOther scalarTag = iota
	tagInt
	tagBool
)

type stdValue struct {
	kind  valueKind
	style valueStyle
	alias bool      // the value is an alias to an anchor elsewhere
	tag   scalarTag // set for plain scalars
	text  string    // as Flink reads it
	off   int       // byte offset of the value
	end   int       // byte offset after a one-line scalar, 0 when not known
	m     int32     // the mapping, when kind is valMap
}

type stdRef struct {
	pair     int32
	viaAlias bool // inside a mapping reached through an alias: editing it would edit the anchor
}

// ParseStandard reads config.yaml text.
func ParseStandard(src []byte) (*Standard, error) {
	if err := checkText(src); err != nil {
		return nil, err
	}
	s := &Standard{src: src}
	if err := s.parse(); err != nil {
		return nil, err
	}
	return s, nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

func yamlError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		return &ParseError{Line: n, Msg: "invalid YAML: " + err.Error()[len(m[0]):]}
	}
	return &ParseError{Msg: "invalid YAML: " + msg}
}

func (s *Standard) parse() error {
	s.text = string(s.src)
	s.lines = make([]int, 1, bytes.Count(s.src, []byte{'\n'})+2)
	for i := 0; i < len(s.src); i++ {
		switch s.src[i] {
		case '\r':
			if i+1 < len(s.src) && s.src[i+1] == '\n' {
				i++
			}
			s.lines = append(s.lines, i+1)
		case '\n':
			s.lines = append(s.lines, i+1)
		case 0xC2, 0xE2: // YAML also breaks lines at NEL, LS and PS
			if r, _ := utf8.DecodeRune(s.src[i:]); r == '\u0085' || r == '\u2028' || r == '\u2029' {
				return &ParseError{Line: len(s.lines), Msg: fmt.Sprintf("contains the line break %U, which YAML and Flink read differently from an editor; use \\n", r)}
			}
		}
	}
	if !s.scanBlock() {
		if err := s.parseYAML(); err != nil {
			return err
		}
	}
	s.entries, s.refs, s.warnings, s.last = nil, nil, nil, nil
	if s.root < 0 {
		return nil
	}
	// Flattening writes every nested key into one buffer and records where;
	// one string conversion then gives every key without an allocation each.
	f := flattener{s: s, budget: maxNodes, flat: make([]flatKey, 0, len(s.pairs))}
	if err := f.walk(s.root, -1, -1, 0, false); err != nil {
		return err
	}
	keys := string(f.buf)
	s.entries, s.refs = make([]Entry, 0, len(f.flat)), make([]stdRef, 0, len(f.flat))
	for _, fk := range f.flat {
		p := &s.pairs[fk.pair]
		key := p.key
		if fk.start >= 0 {
			key = keys[fk.start:fk.end]
		}
		s.entries = append(s.entries, Entry{Key: key, Value: p.val.text, Line: p.keyLine, Arg: -1})
		s.refs = append(s.refs, stdRef{pair: fk.pair, viaAlias: fk.viaAlias})
	}
	// Keys are unique within a mapping, so two entries can share a flattened
	// key only when a nested key meets one written with dots ("a.b" beside
	// "a: {b: ..}"); only then is the index needed to find them.
	if f.nested && f.dotted {
		s.index()
		for i, e := range s.entries {
			if j := s.last[e.Key]; j != i {
				s.warnings = append(s.warnings, Warning{Line: s.entries[j].Line,
					Message: fmt.Sprintf("%q is also set on line %d; Flink uses this line", e.Key, e.Line)})
			}
		}
		slices.SortStableFunc(s.warnings, func(a, b Warning) int { return a.Line - b.Line })
	}
	return nil
}

// lookup finds the entry of key that Flink uses: the last one.
func (s *Standard) lookup(key string) (int, bool) {
	if s.last == nil && len(s.entries) > 64 {
		s.index()
	}
	if s.last != nil {
		i, ok := s.last[key]
		return i, ok
	}
	for i := len(s.entries) - 1; i >= 0; i-- {
		if s.entries[i].Key == key {
			return i, true
		}
	}
	return 0, false
}

func (s *Standard) index() {
	s.last = make(map[string]int, len(s.entries))
	for i, e := range s.entries {
		s.last[e.Key] = i
	}
}

// flatKey is a flattened key: buf[start:end], or its pair's own key when
// start is -1 (a top-level key).
type flatKey struct {
	start, end int
	pair       int32
	viaAlias   bool
}

type flattener struct {
	s      *Standard
	budget int
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
		f.budget--
		if f.budget < 0 {
			return &ParseError{Line: p.keyLine, Msg: fmt.Sprintf("expands to more than %d YAML nodes (through aliases?)", maxNodes)}
		}
		if first := s.findDuplicate(m, pi, seen); first >= 0 {
			return &ParseError{Line: p.keyLine, Msg: fmt.Sprintf("duplicate key %q (first on line %d); Flink rejects duplicate keys: keep one", p.key, s.pairs[first].keyLine)}
		}
		if p.val.kind == valNull {
			continue // Flink reads no value
		}
		f.nested = f.nested || ps >= 0
		f.dotted = f.dotted || strings.IndexByte(p.key, '.') >= 0
		start, end := -1, -1
		if ps >= 0 || p.val.kind == valMap {
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

func (s *Standard) reset() {
	s.maps, s.pairs, s.root = s.maps[:0], s.pairs[:0], -1
}

func (s *Standard) newMap(flow bool) int32 {
	s.maps = append(s.maps, stdMap{flow: flow, first: -1, last: -1})
	return int32(len(s.maps) - 1)
}

func (s *Standard) addPair(m int32, p stdPair) int32 {
	p.parent, p.next = m, -1
	s.pairs = append(s.pairs, p)
	i := int32(len(s.pairs) - 1)
	mm := &s.maps[m]
	if mm.last >= 0 {
		s.pairs[mm.last].next = i
	} else {
		mm.first = i
	}
	mm.last = i
	mm.count++
	return i
}

// parseYAML builds the tree with the full YAML parser.
func (s *Standard) parseYAML() error {
	s.reset()
	dec := yaml.NewDecoder(bytes.NewReader(s.src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // empty, or comments only
		}
		return yamlError(err)
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		if err != nil {
			return yamlError(err)
		}
		return &ParseError{Line: more.Line, Msg: "holds a second YAML document; Flink reads exactly one: remove the \"---\" and what follows, or merge it into the first"}
	}
	if len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		return &ParseError{Line: root.Line, Msg: "must be a YAML mapping of keys to values"}
	}
	budget := maxNodes
	var err error
	s.root, err = s.convertMap(root, map[*yaml.Node]int32{}, 0, &budget)
	return err
}

func (s *Standard) convertMap(n *yaml.Node, memo map[*yaml.Node]int32, depth int, budget *int) (int32, error) {
	if mi, ok := memo[n]; ok {
		return mi, nil
	}
	if depth > maxDepth {
		return 0, &ParseError{Line: n.Line, Msg: fmt.Sprintf("nests deeper than %d levels", maxDepth)}
	}
	mi := s.newMap(n.Style&yaml.FlowStyle != 0)
	memo[n] = mi
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.AliasNode {
			return 0, &ParseError{Line: k.Line, Msg: "uses an alias as a key; write the key out"}
		}
		if k.Kind != yaml.ScalarNode || k.Tag == "!!null" {
			return 0, &ParseError{Line: k.Line, Msg: "has a key that is not a plain value; Flink keys are strings"}
		}
		p := stdPair{key: k.Value, keyLine: k.Line, keyOff: s.offset(k.Line, k.Column), keyTagged: k.Style&yaml.TaggedStyle != 0}
		target := v
		if v.Kind == yaml.AliasNode {
			target = v.Alias
		}
		p.val = stdValue{alias: v.Kind == yaml.AliasNode, off: s.offset(v.Line, v.Column)}
		switch target.Tag {
		case "!!int":
			p.val.tag = tagInt
		case "!!bool":
			p.val.tag = tagBool
		}
		switch {
		case target.Kind == yaml.MappingNode:
			p.val.kind = valMap
			m, err := s.convertMap(target, memo, depth+1, budget)
			if err != nil {
				return 0, err
			}
			p.val.m = m
		case target.Kind == yaml.ScalarNode && target.Tag == "!!null":
			p.val.kind = valNull
		default:
			text, err := scalarString(target, depth+1, budget)
			if err != nil {
				if pe, ok := err.(*ParseError); ok {
					pe.Line = k.Line // the key whose value is too large, not a node deep inside it
				}
				return 0, err
			}
			p.val.text = text
			switch {
			case v.Kind != yaml.ScalarNode || v.Style&(yaml.TaggedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0:
				p.val.style = styleOther
			case v.Style&yaml.SingleQuotedStyle != 0:
				p.val.style = styleSingle
			case v.Style&yaml.DoubleQuotedStyle != 0:
				p.val.style = styleDouble
			default:
				if end := p.val.off + len(v.Value); end <= len(s.src) && string(s.src[p.val.off:end]) == v.Value {
					p.val.end = end // a one-line plain scalar
				}
			}
		}
		s.addPair(mi, p)
	}
	return mi, nil
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

// scalarString renders a value the way Flink turns it into a string: lists
// join with ';', maps inside lists as k:v pairs joined with ','.
func scalarString(v *yaml.Node, depth int, budget *int) (string, error) {
	if depth > maxDepth {
		return "", &ParseError{Line: v.Line, Msg: fmt.Sprintf("nests deeper than %d levels", maxDepth)}
	}
	*budget -= len(v.Content) + 1
	if *budget < 0 {
		return "", &ParseError{Line: v.Line, Msg: fmt.Sprintf("expands to more than %d YAML nodes (through aliases?)", maxNodes)}
	}
	switch v.Kind {
	case yaml.AliasNode:
		return scalarString(v.Alias, depth+1, budget)
	case yaml.SequenceNode:
		parts := make([]string, 0, len(v.Content))
		for _, c := range v.Content {
			p, err := scalarString(c, depth+1, budget)
			if err != nil {
				return "", err
			}
			parts = append(parts, p)
		}
		return strings.Join(parts, ";"), nil
	case yaml.MappingNode:
		parts := make([]string, 0, len(v.Content)/2)
		for i := 0; i+1 < len(v.Content); i += 2 {
			k, err := scalarString(v.Content[i], depth+1, budget)
			if err != nil {
				return "", err
			}
			val, err := scalarString(v.Content[i+1], depth+1, budget)
			if err != nil {
				return "", err
			}
			parts = append(parts, k+":"+val)
		}
		return strings.Join(parts, ","), nil
	}
	if v.Tag == "!!bool" {
		return strings.ToLower(v.Value), nil
	}
	return v.Value, nil
}

// Format implements Source.
func (s *Standard) Format() Format { return FormatStandard }

// Entries implements Source.
func (s *Standard) Entries() []Entry { return s.entries }

// Warnings implements Source.
func (s *Standard) Warnings() []Warning { return s.warnings }

// Bytes returns the current text.
func (s *Standard) Bytes() []byte { return s.src }

// Get implements Source.
func (s *Standard) Get(key string) (Entry, bool) {
	i, ok := s.lookup(key)
	if !ok {
		return Entry{}, false
	}
	return s.entries[i], true
}

// Set implements Source. A present key keeps its place and quoting style; a
// new key goes into the nested block that already holds its prefix, else
// flat after the last top-level key sharing its first segment, else at the
// end. The result is parsed again and must read back the new value and
// every other key unchanged, or Set fails and nothing changes.
func (s *Standard) Set(key, value string) (bool, error) {
	if key == "" {
		return false, &EditError{Key: key, Msg: "the key is empty"}
	}
	if !utf8.ValidString(key) || !utf8.ValidString(value) || strings.IndexByte(key+value, 0) >= 0 {
		return false, &EditError{Key: key, Msg: "key and value must be UTF-8 without NUL bytes"}
	}
	if i, ok := s.lookup(key); ok {
		if s.entries[i].Value == value {
			return false, nil
		}
		err := s.edit(key, value, func() ([]byte, error) { return s.replaceValue(i, value) })
		return err == nil, err
	}
	for _, e := range s.entries {
		if overlaps(e.Key, key) {
			return false, &EditError{Key: key, Msg: fmt.Sprintf("%q on line %d is a value; nested YAML cannot hold %q beside it", e.Key, e.Line, key)}
		}
	}
	err := s.edit(key, value, func() ([]byte, error) { return s.insert(key, value) })
	return err == nil, err
}

// Delete implements Source: every definition's lines go, with the lines of
// their values.
func (s *Standard) Delete(key string) (bool, error) {
	var doomed []int
	for i, e := range s.entries {
		if e.Key == key {
			doomed = append(doomed, i)
		}
	}
	if len(doomed) == 0 {
		return false, nil
	}
	err := s.edit(key, "", func() ([]byte, error) {
		out := s.src
		for j := len(doomed) - 1; j >= 0; j-- { // bottom up, so offsets stay true
			a, b, err := s.pairSpan(doomed[j])
			if err != nil {
				return nil, err
			}
			out = splice(out, a, b, "")
		}
		return out, nil
	})
	return err == nil, err
}

// overlaps reports whether one key is a dotted prefix of the other, which
// nested configuration cannot hold.
func overlaps(a, b string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	return len(b) > len(a) && b[len(a)] == '.' && b[:len(a)] == a
}

// edit applies change and checks the result reads back as intended: key has
// value (or is gone, for a delete, when value is "") and no other key moved.
func (s *Standard) edit(key, value string, change func() ([]byte, error)) error {
	out, err := change()
	if err != nil {
		return err
	}
	next := &Standard{src: out, pairs: s.sparePairs[:0], maps: s.spareMaps[:0]}
	s.sparePairs, s.spareMaps = nil, nil
	if err := next.parse(); err != nil {
		return &EditError{Key: key, Msg: fmt.Sprintf("the edited file would not parse (%v); edit it by hand", err)}
	}
	// Edits never reorder keys: with key's entries set aside, the old and
	// new entries must be the same list; key must read back value, or be
	// gone after a delete.
	j := 0
	for _, e := range next.entries {
		if e.Key == key {
			continue
		}
		for j < len(s.entries) && s.entries[j].Key == key {
			j++
		}
		if j == len(s.entries) || s.entries[j].Key != e.Key || s.entries[j].Value != e.Value {
			return &EditError{Key: key, Msg: fmt.Sprintf("the edit would change %q; edit the file by hand", e.Key)}
		}
		j++
	}
	for j < len(s.entries) && s.entries[j].Key == key {
		j++
	}
	if j != len(s.entries) {
		return &EditError{Key: key, Msg: "the edit would change other keys; edit the file by hand"}
	}
	if got, ok := next.Get(key); ok != (value != "") || got.Value != value {
		return &EditError{Key: key, Msg: "the edit would not read back as written; edit the file by hand"}
	}
	next.sparePairs, next.spareMaps = s.pairs, s.maps
	*s = *next
	return nil
}

func splice(src []byte, a, b int, s string) []byte {
	out := make([]byte, 0, len(src)-(b-a)+len(s))
	out = append(out, src[:a]...)
	out = append(out, s...)
	return append(out, src[b:]...)
}

// offset turns a 1-based line and rune column into a byte offset.
func (s *Standard) offset(line, col int) int {
	if line < 1 || line > len(s.lines) {
		return len(s.src)
	}
	off := s.lines[line-1]
	for c := 1; c < col && off < len(s.src); c++ {
		_, size := utf8.DecodeRune(s.src[off:])
		off += size
	}
	return off
}

func (s *Standard) lineText(line int) []byte {
	a := s.lines[line-1]
	b := len(s.src)
	if line < len(s.lines) {
		b = s.lines[line]
	}
	return bytes.TrimRight(s.src[a:b], "\r\n")
}

func indentOf(text []byte) int {
	n := 0
	for n < len(text) && text[n] == ' ' {
		n++
	}
	return n
}

// startsLine reports whether only spaces stand before byte off on its line.
func (s *Standard) startsLine(line, off int) bool {
	return len(bytes.Trim(s.src[s.lines[line-1]:off], " ")) == 0
}

// lineEditable reports whether ref's key starts its own line in block style,
// so its lines can be removed or replaced whole.
func (s *Standard) lineEditable(ref stdRef) bool {
	p := &s.pairs[ref.pair]
	return !ref.viaAlias && !s.maps[p.parent].flow && !p.keyTagged && s.startsLine(p.keyLine, p.keyOff)
}

// pairSpan is the byte range of the whole lines holding entry i's key and
// value.
func (s *Standard) pairSpan(i int) (int, int, error) {
	ref := s.refs[i]
	if !s.lineEditable(ref) {
		return 0, 0, &EditError{Key: s.entries[i].Key, Msg: fmt.Sprintf("line %d is in flow style or reached through an alias; edit it by hand", s.entries[i].Line)}
	}
	line := s.pairs[ref.pair].keyLine
	end := s.pairEnd(line, indentOf(s.lineText(line)))
	b := len(s.src)
	if end < len(s.lines) {
		b = s.lines[end]
	}
	return s.lines[line-1], b, nil
}

// pairEnd is the last line that belongs to a key on line at indentation
// indent: lines indented deeper, with blank lines and shallower comments
// between them.
func (s *Standard) pairEnd(line, indent int) int {
	end := line
	for ln := line + 1; ln <= len(s.lines); ln++ {
		text := s.lineText(ln)
		trimmed := skipBlank(text)
		if len(trimmed) == 0 {
			continue
		}
		if indentOf(text) > indent {
			end = ln
			continue
		}
		if trimmed[0] == '#' {
			continue
		}
		break
	}
	return end
}

// replaceValue writes value over entry i's value: in place for a one-line
// scalar, keeping its quoting; else by rewriting the entry's lines.
func (s *Standard) replaceValue(i int, value string) ([]byte, error) {
	ref := s.refs[i]
	p := &s.pairs[ref.pair]
	v := p.val
	if !ref.viaAlias && !v.alias && v.kind == valScalar && v.style != styleOther {
		if b, ok := s.scalarEnd(v); ok {
			var enc string
			switch {
			case v.style == styleDouble:
				enc = strconv.Quote(value)
			case v.style == styleSingle && singleQuotable(value):
				enc = "'" + strings.ReplaceAll(value, "'", "''") + "'"
			case sameTypedPlain(v.tag, value):
				enc = value // 6123 -> 50010 stays a number
			default:
				enc = yamlScalar(value)
			}
			return splice(s.src, v.off, b, enc), nil
		}
	}
	a, b, err := s.pairSpan(i)
	if err != nil {
		return nil, err
	}
	indent := indentOf(s.lineText(p.keyLine))
	line := strings.Repeat(" ", indent) + yamlScalar(p.key) + ": " + yamlScalar(value) + lineEnding(s.src)
	return splice(s.src, a, b, line), nil
}

// scalarEnd finds the end of a one-line scalar.
func (s *Standard) scalarEnd(v stdValue) (int, bool) {
	src, a := s.src, v.off
	switch v.style {
	case styleSingle:
		for i := a + 1; i < len(src); i++ {
			switch src[i] {
			case '\'':
				if i+1 < len(src) && src[i+1] == '\'' {
					i++
					continue
				}
				return i + 1, true
			case '\n', '\r':
				return 0, false
			}
		}
	case styleDouble:
		for i := a + 1; i < len(src); i++ {
			switch src[i] {
			case '\\':
				i++
			case '"':
				return i + 1, true
			case '\n', '\r':
				return 0, false
			}
		}
	default:
		if v.end > a {
			return v.end, true
		}
	}
	return 0, false
}

// insert adds a new key.
func (s *Standard) insert(key, value string) ([]byte, error) {
	eol := lineEnding(s.src)
	if s.root < 0 {
		prefix := ""
		if len(s.src) > 0 && s.src[len(s.src)-1] != '\n' && s.src[len(s.src)-1] != '\r' {
			prefix = eol
		}
		return splice(s.src, len(s.src), len(s.src), prefix+yamlScalar(key)+": "+yamlScalar(value)+eol), nil
	}
	if s.maps[s.root].flow {
		return nil, &EditError{Key: key, Msg: "the document is one flow-style mapping ({...}); write it as block YAML first"}
	}
	m, rest := s.root, key
	for {
		next, nextRest := s.nestedBlock(m, rest)
		if next < 0 {
			break
		}
		m, rest = next, nextRest
	}
	// The pair after which the key goes: the last one of a nested block, or
	// at the top the last one sharing the key's first segment.
	anchor := s.maps[m].last
	if m == s.root {
		seg := firstSegment(key)
		for pi := s.maps[m].first; pi >= 0; pi = s.pairs[pi].next {
			if firstSegment(s.pairs[pi].key) == seg {
				anchor = pi
			}
		}
	}
	k := &s.pairs[anchor]
	indent := indentOf(s.lineText(s.pairs[s.maps[m].first].keyLine))
	end := s.pairEnd(k.keyLine, indentOf(s.lineText(k.keyLine)))
	at, prefix := len(s.src), ""
	if end < len(s.lines) {
		at = s.lines[end]
	} else if len(s.src) > 0 && s.src[len(s.src)-1] != '\n' && s.src[len(s.src)-1] != '\r' {
		prefix = eol
	}
	line := prefix + strings.Repeat(" ", indent) + yamlScalar(rest) + ": " + yamlScalar(value) + eol
	return splice(s.src, at, at, line), nil
}

// nestedBlock finds, among mapping mi's keys, the longest one that is a
// dotted prefix of rest and holds a non-empty block mapping written in
// place (not an alias), and returns that mapping and what is left of rest.
func (s *Standard) nestedBlock(mi int32, rest string) (int32, string) {
	best, bestLen := int32(-1), 0
	for pi := s.maps[mi].first; pi >= 0; pi = s.pairs[pi].next {
		p := &s.pairs[pi]
		if p.val.kind != valMap || p.val.alias || len(p.key) <= bestLen || !strings.HasPrefix(rest, p.key+".") {
			continue
		}
		sub := s.maps[p.val.m]
		if sub.flow || sub.first < 0 {
			continue
		}
		first := &s.pairs[sub.first]
		if first.keyLine <= p.keyLine || !s.startsLine(first.keyLine, first.keyOff) {
			continue // written unusually: leave it
		}
		best, bestLen = p.val.m, len(p.key)
	}
	if best < 0 {
		return -1, ""
	}
	return best, rest[bestLen+1:]
}

var (
	yamlNumber  = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?$|^0[xob][0-9a-fA-F_]+$|^[-+]?\.(inf|Inf|INF)$|^\.(nan|NaN|NAN)$`)
	yamlSpecial = map[string]bool{"true": true, "false": true, "null": true, "~": true, "yes": true, "no": true, "on": true, "off": true, "y": true, "n": true}
)

// yamlScalar writes s as a YAML scalar that reads back as the string s:
// plain when that is unambiguous, else single-quoted, else double-quoted.
func yamlScalar(s string) string {
	if plainSafe(s) {
		return s
	}
	if singleQuotable(s) {
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	return strconv.Quote(s)
}

// sameTypedPlain reports whether value, written plain, has the YAML type
// tag, so that replacing a typed plain scalar keeps its type.
func sameTypedPlain(tag scalarTag, value string) bool {
	switch tag {
	case tagInt:
		return isDecimal(value)
	case tagBool:
		return value == "true" || value == "false"
	}
	return false
}

func singleQuotable(s string) bool {
	for _, r := range s {
		if r < ' ' || r == 0x7f || !unicode.IsPrint(r) && r != ' ' {
			return false
		}
	}
	return true
}

func plainSafe(s string) bool {
	if s == "" || s[0] == ' ' || s[len(s)-1] == ' ' || s[len(s)-1] == ':' ||
		strings.Contains(s, ": ") || strings.Contains(s, " #") ||
		yamlNumber.MatchString(s) || yamlSpecial[strings.ToLower(s)] {
		return false
	}
	first, _ := utf8.DecodeRuneInString(s)
	switch {
	case first < utf8.RuneSelf && (unicode.IsLetter(first) || unicode.IsDigit(first) || strings.ContainsRune("_./$", first)):
	case first == '-' && len(s) > 1 && s[1] != ' ':
	case first >= utf8.RuneSelf && unicode.IsLetter(first):
	default:
		return false
	}
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)):
		case strings.ContainsRune("-_./:@%+=~$() ", r):
		case r >= utf8.RuneSelf && unicode.IsLetter(r):
		default:
			return false
		}
	}
	return true
}

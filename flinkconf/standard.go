package flinkconf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
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
type Standard struct {
	src      []byte
	lines    []int // byte offset of each line's start
	root     *yaml.Node
	entries  []Entry
	refs     []stdRef // parallel to entries
	last     map[string]int
	warnings []Warning
}

type stdRef struct {
	key, value *yaml.Node
	parent     *yaml.Node // the mapping holding key
	viaAlias   bool       // inside a mapping reached through an alias: editing it would edit the anchor
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
	s.lines = s.lines[:0]
	s.lines = append(s.lines, 0)
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

	dec := yaml.NewDecoder(bytes.NewReader(s.src))
	var doc yaml.Node
	s.root, s.entries, s.refs, s.warnings = nil, s.entries[:0], s.refs[:0], nil
	s.last = make(map[string]int)
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
	s.root = root
	budget := maxNodes
	return s.flatten(root, "", 0, false, &budget)
}

func (s *Standard) flatten(m *yaml.Node, prefix string, depth int, viaAlias bool, budget *int) error {
	if depth > maxDepth {
		return &ParseError{Line: m.Line, Msg: fmt.Sprintf("nests deeper than %d levels", maxDepth)}
	}
	seen := make(map[string]int, len(m.Content)/2)
	for i := 0; i+1 < len(m.Content); i += 2 {
		*budget -= 2
		if *budget < 0 {
			return &ParseError{Line: m.Line, Msg: fmt.Sprintf("expands to more than %d YAML nodes (through aliases?)", maxNodes)}
		}
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind == yaml.AliasNode {
			return &ParseError{Line: k.Line, Msg: "uses an alias as a key; write the key out"}
		}
		if k.Kind != yaml.ScalarNode || k.Tag == "!!null" {
			return &ParseError{Line: k.Line, Msg: "has a key that is not a plain value; Flink keys are strings"}
		}
		if prev, dup := seen[k.Value]; dup {
			return &ParseError{Line: k.Line, Msg: fmt.Sprintf("duplicate key %q (first on line %d); Flink rejects duplicate keys: keep one", k.Value, prev)}
		}
		seen[k.Value] = k.Line
		key := k.Value
		if prefix != "" {
			key = prefix + "." + key
		}
		target := v // what v means; v itself may be an alias, whose line can be rewritten
		if v.Kind == yaml.AliasNode {
			target = v.Alias
		}
		switch target.Kind {
		case yaml.MappingNode:
			// Keys inside an aliased mapping live at the anchor: editing them
			// would edit every place that uses it.
			if err := s.flatten(target, key, depth+1, viaAlias || v.Kind == yaml.AliasNode, budget); err != nil {
				return err
			}
			continue
		case yaml.ScalarNode:
			if target.Tag == "!!null" {
				continue // Flink reads no value
			}
		}
		value, err := scalarString(target, depth+1, budget)
		if err != nil {
			if pe, ok := err.(*ParseError); ok {
				pe.Line = k.Line // the key whose value is too large, not a node deep inside it
			}
			return err
		}
		if prev, ok := s.last[key]; ok {
			s.warnings = append(s.warnings, Warning{Line: k.Line,
				Message: fmt.Sprintf("%q is also set on line %d; Flink uses this line", key, s.entries[prev].Line)})
		}
		s.last[key] = len(s.entries)
		s.entries = append(s.entries, Entry{Key: key, Value: value, Line: k.Line, Arg: -1})
		s.refs = append(s.refs, stdRef{key: k, value: v, parent: m, viaAlias: viaAlias})
	}
	return nil
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
	i, ok := s.last[key]
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
	if i, ok := s.last[key]; ok {
		if s.entries[i].Value == value {
			return false, nil
		}
		err := s.edit(key, value, func() ([]byte, error) { return s.replaceValue(i, value) })
		return err == nil, err
	}
	for _, e := range s.entries {
		if strings.HasPrefix(e.Key, key+".") || strings.HasPrefix(key, e.Key+".") {
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

// edit applies change and checks the result reads back as intended: key has
// value (or is gone, for a delete) and no other key moved.
func (s *Standard) edit(key, value string, change func() ([]byte, error)) error {
	out, err := change()
	if err != nil {
		return err
	}
	next := &Standard{src: out}
	if err := next.parse(); err != nil {
		return &EditError{Key: key, Msg: fmt.Sprintf("the edited file would not parse (%v); edit it by hand", err)}
	}
	want := make(map[string]string, len(s.last)+1)
	for k, i := range s.last {
		want[k] = s.entries[i].Value
	}
	delete(want, key)
	if value != "" {
		want[key] = value
	}
	if len(next.last) != len(want) {
		return &EditError{Key: key, Msg: "the edit would change other keys; edit the file by hand"}
	}
	for k, i := range next.last {
		if v, ok := want[k]; !ok || v != next.entries[i].Value {
			return &EditError{Key: key, Msg: fmt.Sprintf("the edit would change %q; edit the file by hand", k)}
		}
	}
	*s = *next
	return nil
}

func splice(src []byte, a, b int, s string) []byte {
	out := make([]byte, 0, len(src)-(b-a)+len(s))
	out = append(out, src[:a]...)
	out = append(out, s...)
	return append(out, src[b:]...)
}

// offset turns a node's 1-based line and rune column into a byte offset.
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

// lineEditable reports whether ref's key starts its own line in block style,
// so its lines can be removed or replaced whole.
func (s *Standard) lineEditable(ref stdRef) bool {
	if ref.viaAlias || ref.parent.Style&yaml.FlowStyle != 0 || ref.key.Style&yaml.TaggedStyle != 0 {
		return false
	}
	a := s.lines[ref.key.Line-1]
	b := s.offset(ref.key.Line, ref.key.Column)
	return len(bytes.Trim(s.src[a:b], " ")) == 0
}

// pairSpan is the byte range of the whole lines holding entry i's key and
// value.
func (s *Standard) pairSpan(i int) (int, int, error) {
	ref := s.refs[i]
	if !s.lineEditable(ref) {
		return 0, 0, &EditError{Key: s.entries[i].Key, Msg: fmt.Sprintf("line %d is in flow style or reached through an alias; edit it by hand", s.entries[i].Line)}
	}
	end := s.pairEnd(ref.key.Line, indentOf(s.lineText(ref.key.Line)))
	b := len(s.src)
	if end < len(s.lines) {
		b = s.lines[end]
	}
	return s.lines[ref.key.Line-1], b, nil
}

// pairEnd is the last line that belongs to a key on line at indentation
// indent: lines indented deeper, with blank lines and shallower comments
// between them.
func (s *Standard) pairEnd(line, indent int) int {
	end := line
	for ln := line + 1; ln <= len(s.lines); ln++ {
		text := s.lineText(ln)
		trimmed := bytes.TrimLeft(text, " \t")
		if len(trimmed) == 0 {
			continue
		}
		ind := indentOf(text)
		if ind > indent {
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
	v := ref.value
	if !ref.viaAlias && v.Kind == yaml.ScalarNode && v.Style&(yaml.LiteralStyle|yaml.FoldedStyle|yaml.TaggedStyle) == 0 {
		a := s.offset(v.Line, v.Column)
		if b, ok := s.scalarEnd(v, a); ok {
			var enc string
			switch {
			case v.Style&yaml.DoubleQuotedStyle != 0:
				enc = strconv.Quote(value)
			case v.Style&yaml.SingleQuotedStyle != 0 && singleQuotable(value):
				enc = "'" + strings.ReplaceAll(value, "'", "''") + "'"
			case sameTypedPlain(v.Tag, value):
				enc = value // 6123 -> 50010 stays a number
			default:
				enc = yamlScalar(value)
			}
			return splice(s.src, a, b, enc), nil
		}
	}
	a, b, err := s.pairSpan(i)
	if err != nil {
		return nil, err
	}
	indent := indentOf(s.lineText(ref.key.Line))
	line := strings.Repeat(" ", indent) + yamlScalar(ref.key.Value) + ": " + yamlScalar(value) + lineEnding(s.src)
	return splice(s.src, a, b, line), nil
}

// scalarEnd finds the end of a one-line scalar starting at a.
func (s *Standard) scalarEnd(v *yaml.Node, a int) (int, bool) {
	src := s.src
	switch {
	case v.Style&yaml.SingleQuotedStyle != 0:
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
	case v.Style&yaml.DoubleQuotedStyle != 0:
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
		b := a + len(v.Value)
		if b <= len(src) && string(src[a:b]) == v.Value {
			return b, true
		}
	}
	return 0, false
}

// insert adds a new key.
func (s *Standard) insert(key, value string) ([]byte, error) {
	eol := lineEnding(s.src)
	if s.root == nil {
		prefix := ""
		if len(s.src) > 0 && s.src[len(s.src)-1] != '\n' && s.src[len(s.src)-1] != '\r' {
			prefix = eol
		}
		return splice(s.src, len(s.src), len(s.src), prefix+yamlScalar(key)+": "+yamlScalar(value)+eol), nil
	}
	if s.root.Style&yaml.FlowStyle != 0 {
		return nil, &EditError{Key: key, Msg: "the document is one flow-style mapping ({...}); write it as block YAML first"}
	}
	m, rest := s.root, key
	for {
		next, nextRest := s.nestedBlock(m, rest)
		if next == nil {
			break
		}
		m, rest = next, nextRest
	}
	// The pair after which the key goes: the last one of a nested block, or
	// at the top the last one sharing the key's first segment.
	anchor := len(m.Content) - 2
	if m == s.root {
		seg := firstSegment(key)
		for i := 0; i+1 < len(m.Content); i += 2 {
			if firstSegment(m.Content[i].Value) == seg {
				anchor = i
			}
		}
	}
	k := m.Content[anchor]
	indent := indentOf(s.lineText(m.Content[0].Line))
	end := s.pairEnd(k.Line, indentOf(s.lineText(k.Line)))
	at, prefix := len(s.src), ""
	if end < len(s.lines) {
		at = s.lines[end]
	} else if len(s.src) > 0 && s.src[len(s.src)-1] != '\n' && s.src[len(s.src)-1] != '\r' {
		prefix = eol
	}
	line := prefix + strings.Repeat(" ", indent) + yamlScalar(rest) + ": " + yamlScalar(value) + eol
	return splice(s.src, at, at, line), nil
}

// nestedBlock finds, among m's keys, the longest one that is a dotted prefix
// of rest and holds a non-empty block mapping written in place (not an
// alias), and returns that mapping and what is left of rest.
func (s *Standard) nestedBlock(m *yaml.Node, rest string) (*yaml.Node, string) {
	var best *yaml.Node
	bestLen := 0
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode || v.Kind != yaml.MappingNode || v.Style&yaml.FlowStyle != 0 || len(v.Content) == 0 {
			continue
		}
		if len(k.Value) > bestLen && strings.HasPrefix(rest, k.Value+".") {
			first := v.Content[0]
			a := s.lines[first.Line-1]
			if first.Line <= k.Line || len(bytes.Trim(s.src[a:s.offset(first.Line, first.Column)], " ")) != 0 {
				continue // "a: {..}" or "a: &x" written unusually: leave it
			}
			best, bestLen = v, len(k.Value)
		}
	}
	if best == nil {
		return nil, ""
	}
	return best, rest[bestLen+1:]
}

var (
	yamlInt     = regexp.MustCompile(`^[-+]?[0-9]+$`)
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
func sameTypedPlain(tag, value string) bool {
	switch tag {
	case "!!int":
		return yamlInt.MatchString(value)
	case "!!bool":
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

package flinkconf

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"
)

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
	if i, ok := s.find(key); ok {
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
		// One pass, copying what lies between the doomed lines: entries are
		// in the order of the text and definitions of one key never nest.
		out := make([]byte, 0, len(s.src))
		prev := 0
		for _, i := range doomed {
			a, b, err := s.pairSpan(i)
			if err != nil {
				return nil, err
			}
			if a < prev {
				return nil, &EditError{Key: key, Msg: fmt.Sprintf("the definition on line %d is inside another; edit it by hand", s.entries[i].Line)}
			}
			out = append(out, s.src[prev:a]...)
			prev = b
		}
		return append(out, s.src[prev:]...), nil
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
	next, err := parseStandard(out)
	if err != nil {
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
	*s = *next
	return nil
}

// splice returns a copy of src with the bytes from a to b replaced by s.
func splice(src []byte, a, b int, s string) []byte {
	out := make([]byte, 0, len(src)-(b-a)+len(s))
	out = append(out, src[:a]...)
	out = append(out, s...)
	return append(out, src[b:]...)
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
				enc = encodeScalar(value, yaml.DoubleQuotedStyle)
			case v.style == styleSingle:
				enc = encodeScalar(value, yaml.SingleQuotedStyle)
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

// skipBlank drops leading spaces and tabs.
func skipBlank(b []byte) []byte {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	return b[i:]
}

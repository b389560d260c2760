package flinkconf

import (
	"fmt"
	"slices"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"
)

// Standard is configuration in the standard config.yaml format of Flink
// 1.19 and later: YAML 1.2 whose nested mappings flatten into dotted keys.
// Duplicate keys in one mapping are an error, as in Flink; a key reached
// twice through different nesting is a Warning and the later one wins.
//
// The text is read by go.yaml.in/yaml/v3 into a compact tree of mappings
// that keeps the byte offset of every key and value, from which entries are
// flattened and edits are planned as byte splices of the original text.
type Standard struct {
	index
	src   []byte
	lines []int // byte offset of each line's start
	maps  []stdMap
	pairs []stdPair
	root  int32    // index into maps, -1 for an empty document
	refs  []stdRef // parallel to entries
	pos   cursor
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
	end   int       // byte offset after a one-line plain scalar, 0 when not known
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
	return parseStandard(src)
}

// parseStandard parses src, or copies what a recent parse of the same text
// built (parsed).
func parseStandard(src []byte) (*Standard, error) {
	if s, ok := parsed.get(src); ok {
		return s, nil
	}
	s := &Standard{src: src}
	if err := s.parse(); err != nil {
		return nil, err
	}
	parsed.put(s)
	return s, nil
}

func (s *Standard) parse() error {
	if err := s.splitLines(); err != nil {
		return err
	}
	s.reset(0)
	s.maps, s.pairs, s.refs, s.root, s.pos = nil, nil, nil, -1, cursor{}
	root, err := decodeYAML(s.src)
	if err != nil || root == nil {
		return err
	}
	b := newBudget()
	if s.root, err = s.convertMap(root, map[*yaml.Node]int32{}, 0, &b); err != nil {
		return err
	}
	b.nodes = maxNodes // flattening counts again, aliases expanded
	f := flattener{s: s, budget: &b, flat: make([]flatKey, 0, len(s.pairs))}
	if err := f.walk(s.root, -1, -1, 0, false); err != nil {
		return err
	}
	// One string conversion gives every nested key without an allocation
	// each.
	keys := string(f.buf)
	s.reset(len(f.flat))
	s.refs = make([]stdRef, 0, len(f.flat))
	for _, fk := range f.flat {
		p := &s.pairs[fk.pair]
		key := p.key
		if fk.start >= 0 {
			key = keys[fk.start:fk.end]
		}
		s.add(Entry{Key: key, Value: p.val.text, Line: p.keyLine, Arg: -1})
		s.refs = append(s.refs, stdRef{pair: fk.pair, viaAlias: fk.viaAlias})
	}
	// Keys are unique within a mapping, so two entries can share a flattened
	// key only when a nested key meets one written with dots ("a.b" beside
	// "a: {b: ..}").
	if f.nested && f.dotted {
		for i, e := range s.entries {
			if j, _ := s.find(e.Key); j != i {
				s.warn(s.entries[j].Line, "%s is also set on line %d; Flink uses this line", excerpt(e.Key), e.Line)
			}
		}
		slices.SortStableFunc(s.warnings, func(a, b Warning) int { return a.Line - b.Line })
	}
	return nil
}

// splitLines records where each line starts, refusing the line breaks that
// YAML and an editor see differently.
func (s *Standard) splitLines() error {
	src := s.src
	s.lines = s.lines[:0]
	s.lines = append(s.lines, 0)
	for i := 0; i < len(src); i++ {
		switch src[i] {
		case '\r':
			if i+1 < len(src) && src[i+1] == '\n' {
				i++
			}
			s.lines = append(s.lines, i+1)
		case '\n':
			s.lines = append(s.lines, i+1)
		case 0xC2, 0xE2: // YAML also breaks lines at NEL, LS and PS
			if r, _ := utf8.DecodeRune(src[i:]); r == '\u0085' || r == '\u2028' || r == '\u2029' {
				return &ParseError{Line: len(s.lines), Msg: fmt.Sprintf("contains the line break %U, which YAML and Flink read differently from an editor; use \\n", r)}
			}
		}
	}
	return nil
}

// Format implements Source.
func (s *Standard) Format() Format { return FormatStandard }

// Bytes returns the current text.
func (s *Standard) Bytes() []byte { return s.src }

// cursor is the last position offset turned into a byte offset.
type cursor struct {
	line, col, off int
	walked         int // characters stepped over, for the test that keeps it linear
}

// offset turns a 1-based line and character column, as yaml.v3 reports
// them, into a byte offset. Nodes are asked for in the order of the text, so
// it goes on from the last position when that is earlier on the same line:
// a line is walked once, not once for every node on it (a one-line JSON
// document has thousands).
func (s *Standard) offset(line, col int) int {
	if line < 1 || line > len(s.lines) {
		return len(s.src)
	}
	c := &s.pos
	if c.line != line || c.col > col {
		c.line, c.col, c.off = line, 1, s.lines[line-1]
	}
	for c.col < col && c.off < len(s.src) {
		_, size := utf8.DecodeRune(s.src[c.off:])
		c.off += size
		c.col++
		c.walked++
	}
	return c.off
}

package flinkconf

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// scanBlock builds the tree for the block-style YAML that configuration files
// are written in, without a YAML parser: block mappings whose values are
// one-line plain, single-quoted or escape-free double-quoted scalars, nested
// mappings, comments and blank lines. It reports false on anything outside
// that subset (flow collections, sequences, block scalars, anchors, tags,
// escapes, multi-line scalars, tabs in indentation, document markers, very
// long keys, ...), and parseYAML then reads the text with the full parser.
// FuzzScanBlock checks that wherever it answers, it answers as that parser.
func (s *Standard) scanBlock() bool {
	s.reset()
	src := s.src
	if n := len(s.lines); cap(s.pairs) < n || cap(s.maps) < n/2+1 {
		// At most a pair a line; the headroom lets the next edits, which add
		// lines, reuse these arenas.
		s.pairs = make([]stdPair, 0, n+n/8+4)
		s.maps = make([]stdMap, 0, n/2+n/16+4)
	}
	if bytes.HasPrefix(src, []byte("\xef\xbb\xbf")) || !yamlPrintable(src) {
		return false // a byte-order mark, or characters YAML refuses
	}
	type level struct {
		indent int
		m      int32
	}
	var stack [maxDepth + 1]level
	top := -1
	pending := int32(-1) // a pair with an empty value, which may open a mapping
	for ln := 1; ln <= len(s.lines); ln++ {
		a := s.lines[ln-1]
		b := len(src)
		if ln < len(s.lines) {
			b = s.lines[ln]
		}
		line := src[a:b]
		if n := len(line); n > 0 && line[n-1] == '\n' {
			line = line[:n-1]
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		ind := indentOf(line)
		rest := line[ind:]
		if len(rest) == 0 {
			continue // blank
		}
		if len(skipBlank(rest)) == 0 {
			return false // YAML's scanner refuses some lines of only tabs
		}
		switch {
		case rest[0] == '#':
			continue
		case rest[0] == '\t':
			return false
		case ind == 0 && (bytes.HasPrefix(rest, []byte("---")) || bytes.HasPrefix(rest, []byte("..."))):
			return false
		}
		key, after, ok := scanKey(rest)
		if !ok {
			return false
		}
		p := stdPair{key: s.text[a+ind : a+ind+len(key)], keyLine: ln, keyOff: a + ind}
		voff := a + ind + len(rest) - len(after)
		if p.val, ok = s.scanValue(after, voff); !ok {
			return false
		}

		if pending >= 0 {
			if ind > stack[top].indent {
				if top+1 >= len(stack) {
					return false
				}
				m := s.newMap(false)
				s.pairs[pending].val = stdValue{kind: valMap, m: m, off: a + ind}
				top++
				stack[top] = level{ind, m}
			}
			pending = -1
		}
		if top < 0 {
			s.root = s.newMap(false)
			top = 0
			stack[0] = level{ind, s.root}
		} else {
			for top >= 0 && ind < stack[top].indent {
				top--
			}
			if top < 0 || ind != stack[top].indent {
				return false // continuation lines or bad indentation
			}
		}
		pi := s.addPair(stack[top].m, p)
		if p.val.kind == valNull && p.val.off == 0 {
			pending = pi
		}
	}
	return true
}

// scanKey splits "key: rest" at the first ':' followed by white space or the
// end of the line.
func scanKey(rest []byte) (key, after []byte, ok bool) {
	if strings.IndexByte("-?:,[]{}#&*!|>'\"%@`", rest[0]) >= 0 {
		return nil, nil, false
	}
	for j := 0; j < len(rest); j++ {
		switch rest[j] {
		case '#':
			if rest[j-1] == ' ' || rest[j-1] == '\t' {
				return nil, nil, false // a comment before any ':'
			}
		case ':':
			if j+1 < len(rest) && rest[j+1] != ' ' && rest[j+1] != '\t' {
				continue
			}
			key = rest[:j]
			if k := key[len(key)-1]; k == ' ' || k == '\t' || len(key) > 1000 || isNull(key) {
				return nil, nil, false
			}
			return key, rest[j+1:], true
		}
	}
	return nil, nil, false
}

func isNull(b []byte) bool {
	switch string(b) {
	case "~", "null", "Null", "NULL":
		return true
	}
	return false
}

// scanValue reads what follows "key:". An empty value (nothing, or only a
// comment) comes back as valNull with off 0.
func (s *Standard) scanValue(v []byte, off int) (stdValue, bool) {
	start := len(v)
	v = skipBlank(v)
	off += start - len(v)
	if len(v) == 0 || v[0] == '#' {
		return stdValue{kind: valNull}, true
	}
	switch c := v[0]; {
	case c == '\'':
		for i := 1; i < len(v); i++ {
			if v[i] != '\'' {
				continue
			}
			if i+1 < len(v) && v[i+1] == '\'' {
				i++
				continue
			}
			if !onlyComment(v[i+1:]) {
				return stdValue{}, false
			}
			text := s.text[off+1 : off+i]
			if strings.Contains(text, "''") {
				text = strings.ReplaceAll(text, "''", "'")
			}
			return stdValue{style: styleSingle, text: text, off: off, end: off + i + 1}, true
		}
		return stdValue{}, false
	case c == '"':
		i := bytes.IndexAny(v[1:], "\"\\")
		if i < 0 || v[1+i] == '\\' || !onlyComment(v[i+2:]) {
			return stdValue{}, false
		}
		return stdValue{style: styleDouble, text: s.text[off+1 : off+1+i], off: off, end: off + i + 2}, true
	case strings.IndexByte("[]{}&*!|>%@`,#", c) >= 0:
		return stdValue{}, false
	case c == '-' || c == '?' || c == ':':
		if len(v) == 1 || v[1] == ' ' || v[1] == '\t' {
			return stdValue{}, false
		}
	}
	end := len(v)
	for k := 1; k < len(v); k++ {
		switch v[k] {
		case '#':
			if v[k-1] == ' ' || v[k-1] == '\t' {
				end = k
				k = len(v)
			}
		case ':':
			if k+1 == len(v) || v[k+1] == ' ' || v[k+1] == '\t' {
				return stdValue{}, false // YAML rejects ": " inside a plain value
			}
		}
	}
	raw := bytes.TrimRight(v[:end], " \t")
	text := s.text[off : off+len(raw)]
	val := stdValue{style: stylePlain, text: text, off: off, end: off + len(raw)}
	switch text {
	case "~", "null", "Null", "NULL":
		return stdValue{kind: valNull, off: off}, true
	case "true", "True", "TRUE", "false", "False", "FALSE":
		val.tag, val.text = tagBool, strings.ToLower(text)
	default:
		if isDecimal(text) {
			val.tag = tagInt
		}
	}
	return val, true
}

// onlyComment reports whether b, what follows a quoted scalar, is white
// space with perhaps a comment after it.
func onlyComment(b []byte) bool {
	t := skipBlank(b)
	return len(t) == 0 || (t[0] == '#' && len(t) < len(b))
}

func isDecimal(s string) bool {
	if s != "" && (s[0] == '-' || s[0] == '+') {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// yamlPrintable reports whether every character of src is one YAML allows
// in a document (its c-printable set).
func yamlPrintable(src []byte) bool {
	for i := 0; i < len(src); {
		c := src[i]
		if c < utf8.RuneSelf {
			if (c < ' ' && c != '\t' && c != '\n' && c != '\r') || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(src[i:])
		if (r >= 0x80 && r <= 0x9f && r != 0x85) || (r >= 0xd800 && r <= 0xdfff) || r == 0xfffe || r == 0xffff {
			return false
		}
		i += size
	}
	return true
}

// skipBlank drops leading spaces and tabs.
func skipBlank(b []byte) []byte {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	return b[i:]
}

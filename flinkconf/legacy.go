package flinkconf

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// Legacy is configuration in Flink's legacy flink-conf.yaml format, which is
// also the format of the FLINK_PROPERTIES environment variable. Despite the
// file name it is not YAML: Flink reads it line by line, cuts each line at
// its first '#', trims it, and splits it at the first ": ". Quotes are part
// of the value, there is no nesting, and the last duplicate wins.
type Legacy struct {
	index
	src   []byte
	text  string // src as a string: keys and values are substrings of it
	lines []legacyLine
}

type legacyLine struct {
	start, end int // the line's bytes without its terminator
	next       int // start of the next line
	entry      int // index into entries, -1 for a line without a key
	valStart   int // the value's bytes, when entry >= 0
	valEnd     int
}

// ParseLegacy reads flink-conf.yaml text. It fails only on text that cannot
// be configuration at all (too large, not UTF-8, NUL bytes); lines Flink
// would skip become Warnings.
func ParseLegacy(src []byte) (*Legacy, error) {
	if err := checkText(src); err != nil {
		return nil, err
	}
	l := &Legacy{src: src}
	l.parse()
	return l, nil
}

// javaSpace is what Java's String.trim removes: every char up to ' '.
func javaSpace(c byte) bool { return c <= ' ' }

func (l *Legacy) parse() {
	src := l.src
	l.text = string(src)
	n := bytes.Count(src, []byte{'\n'}) + 1
	l.lines = make([]legacyLine, 0, n)
	l.reset(n)
	lineNo := 0
	for start := 0; start < len(src); {
		lineNo++
		end := start
		for end < len(src) && src[end] != '\n' && src[end] != '\r' {
			end++
		}
		next := end
		if next < len(src) {
			if src[next] == '\r' && next+1 < len(src) && src[next+1] == '\n' {
				next += 2
			} else {
				next++
			}
		}
		ln := legacyLine{start: start, end: end, next: next, entry: -1}
		l.parseLine(&ln, lineNo)
		l.lines = append(l.lines, ln)
		start = next
	}
}

func (l *Legacy) parseLine(ln *legacyLine, lineNo int) {
	confEnd := ln.end
	if i := bytes.IndexByte(l.src[ln.start:ln.end], '#'); i >= 0 {
		confEnd = ln.start + i
	}
	a, b := trimJava(l.src, ln.start, confEnd)
	if a == b {
		return
	}
	sep := bytes.Index(l.src[a:b], []byte(": "))
	if sep < 0 {
		l.warn(lineNo, "Flink skips %s: it has no \": \" between key and value", excerpt(l.text[a:b]))
		return
	}
	ka, kb := trimJava(l.src, a, a+sep)
	va, vb := trimJava(l.src, a+sep+2, b)
	if ka == kb || va == vb {
		what := "key"
		if ka != kb {
			what = "value"
		}
		l.warn(lineNo, "Flink skips %s: its %s is empty", excerpt(l.text[a:b]), what)
		return
	}
	key := l.text[ka:kb]
	if prev, ok := l.find(key); ok {
		l.warn(lineNo, "%s is also set on line %d; Flink uses this line", excerpt(key), l.entries[prev].Line)
	}
	ln.entry = len(l.entries)
	ln.valStart, ln.valEnd = va, vb
	l.add(Entry{Key: key, Value: l.text[va:vb], Line: lineNo, Arg: -1})
}

func trimJava(src []byte, a, b int) (int, int) {
	for a < b && javaSpace(src[a]) {
		a++
	}
	for b > a && javaSpace(src[b-1]) {
		b--
	}
	return a, b
}

// Format implements Source.
func (l *Legacy) Format() Format { return FormatLegacy }

// Bytes returns the current text.
func (l *Legacy) Bytes() []byte { return l.src }

// legacyWritable says why key: value cannot be read back exactly by Flink's
// legacy parser, or "" when it can.
func legacyWritable(key, value string) string {
	switch {
	case !utf8.ValidString(key) || !utf8.ValidString(value):
		return "key and value must be UTF-8"
	case key == "":
		return "the key is empty"
	case strings.ContainsAny(key, "#\r\n"):
		return "the key holds '#' or a line break, which flink-conf.yaml cannot hold"
	case strings.Contains(key, ": "):
		return "the key holds \": \", which flink-conf.yaml reads as the end of the key"
	case javaSpace(key[0]) || javaSpace(key[len(key)-1]):
		return "the key starts or ends with white space, which Flink trims"
	case value == "":
		return "the value is empty, and Flink skips lines with an empty value"
	case strings.ContainsAny(value, "#\r\n"):
		return "the value holds '#' or a line break; flink-conf.yaml cannot hold either (Flink cuts lines at '#'); use config.yaml"
	case javaSpace(value[0]) || javaSpace(value[len(value)-1]):
		return "the value starts or ends with white space, which Flink trims"
	}
	for i := 0; i < len(key); i++ {
		if key[i] < ' ' {
			return "the key holds a control character"
		}
	}
	for i := 0; i < len(value); i++ {
		if value[i] < ' ' {
			return "the value holds a control character"
		}
	}
	return ""
}

// Set implements Source. A key that is present has the value of its last
// definition replaced in place, keeping its spacing and comment; a new key
// goes after the last key that shares its first segment
// ("high-availability.*"), or at the end.
func (l *Legacy) Set(key, value string) (bool, error) {
	if why := legacyWritable(key, value); why != "" {
		return false, &EditError{Key: key, Msg: why}
	}
	if i, ok := l.find(key); ok {
		if l.entries[i].Value == value {
			return false, nil
		}
		for _, ln := range l.lines {
			if ln.entry == i {
				l.replace(ln.valStart, ln.valEnd, value)
				return true, nil
			}
		}
	}
	eol := lineEnding(l.src)
	at, prefix := len(l.src), ""
	seg := firstSegment(key)
	for _, ln := range l.lines {
		if ln.entry >= 0 && firstSegment(l.entries[ln.entry].Key) == seg {
			at = ln.next
		}
	}
	if at > 0 && l.src[at-1] != '\n' && l.src[at-1] != '\r' {
		prefix = eol // only the last line can lack a terminator
	}
	l.replace(at, at, prefix+key+": "+value+eol)
	return true, nil
}

// Delete implements Source: every line defining key goes, terminator and all.
func (l *Legacy) Delete(key string) (bool, error) {
	if _, ok := l.find(key); !ok {
		return false, nil
	}
	var out []byte
	prev := 0
	for _, ln := range l.lines {
		if ln.entry >= 0 && l.entries[ln.entry].Key == key {
			out = append(out, l.src[prev:ln.start]...)
			prev = ln.next
		}
	}
	out = append(out, l.src[prev:]...)
	l.src = out
	l.parse()
	return true, nil
}

func (l *Legacy) replace(a, b int, s string) {
	l.src = splice(l.src, a, b, s)
	l.parse()
}

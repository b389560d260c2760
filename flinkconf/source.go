package flinkconf

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxSize is the largest text a parser accepts: the size limit of a whole
// ConfigMap, so anything larger cannot have come from Kubernetes.
const MaxSize = 1 << 20

// Format names a way Flink configuration is written.
type Format string

// The formats a Source can have.
const (
	FormatLegacy   Format = "flink-conf.yaml"
	FormatStandard Format = "config.yaml"
	FormatArgs     Format = "dynamic properties"
	FormatObject   Format = "flinkConfiguration"
)

// Entry is one key set in one source.
type Entry struct {
	// Key is the key as Flink sees it: flattened, without quotes.
	Key string
	// Value is the value as Flink reads it as a string.
	Value string
	// Line is the 1-based line of the key in text sources, 0 otherwise.
	Line int
	// Arg is the index of the argument holding "key=value" in Args sources,
	// -1 otherwise.
	Arg int
	// Path is the chain of map keys that leads to the value in Object
	// sources (one element for a flat key), nil otherwise.
	Path []string
}

// Where says where the entry is, for messages: "line 7", "argument 3".
func (e Entry) Where() string {
	switch {
	case e.Line > 0:
		return fmt.Sprintf("line %d", e.Line)
	case e.Arg >= 0 && e.Path == nil:
		return fmt.Sprintf("argument %d", e.Arg)
	default:
		return "key " + strings.Join(e.Path, " > ")
	}
}

// Warning is something Flink would skip or silently override.
type Warning struct {
	Line    int // 1-based, 0 when the source has no lines
	Message string
}

func (w Warning) String() string {
	if w.Line > 0 {
		return fmt.Sprintf("line %d: %s", w.Line, w.Message)
	}
	return w.Message
}

// Source is one parsed place Flink reads configuration from.
type Source interface {
	// Format is the source's format.
	Format() Format
	// Entries lists every definition in the order Flink reads them,
	// including the ones a later duplicate overrides.
	Entries() []Entry
	// Get returns the definition of exactly key that Flink uses.
	Get(key string) (Entry, bool)
	// Set makes key's value value, changing as little as possible. It
	// reports whether anything changed; setting a key to the value it
	// already has changes nothing.
	Set(key, value string) (changed bool, err error)
	// Delete removes every definition of key and reports whether there was
	// one.
	Delete(key string) (changed bool, err error)
	// Warnings lists what Flink would skip or override in the source.
	Warnings() []Warning
}

// ParseError is a source that cannot be read, with the line at fault.
type ParseError struct {
	Line int // 1-based; 0 when the problem has no single line
	Msg  string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

// EditError is an edit that cannot be made without breaking the source or
// changing what Flink reads for another key.
type EditError struct {
	Key string
	Msg string
}

func (e *EditError) Error() string { return fmt.Sprintf("cannot set %q: %s", e.Key, e.Msg) }

// checkText rejects text no Flink configuration can be: too large, not UTF-8,
// or holding NUL bytes.
func checkText(src []byte) error {
	if len(src) > MaxSize {
		return &ParseError{Msg: fmt.Sprintf("configuration is %d bytes; at most %d (1 MiB, a ConfigMap's limit) are accepted", len(src), MaxSize)}
	}
	line := 1
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == 0:
			return &ParseError{Line: line, Msg: "contains a NUL byte; remove it"}
		case c == '\n':
			line++
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(src[i:])
			if r == utf8.RuneError && size <= 1 {
				return &ParseError{Line: line, Msg: fmt.Sprintf("contains a byte (0x%02x) that is not UTF-8; save the file as UTF-8", c)}
			}
			i += size
			continue
		}
		i++
	}
	return nil
}

// lineEnding returns the terminator of the first line that has one, "\n"
// when none has.
func lineEnding(src []byte) string {
	for i, c := range src {
		switch c {
		case '\r':
			if i+1 < len(src) && src[i+1] == '\n' {
				return "\r\n"
			}
			return "\r"
		case '\n':
			return "\n"
		}
	}
	return "\n"
}

// firstSegment is the part of a dotted key before its first dot.
func firstSegment(key string) string {
	if i := strings.IndexByte(key, '.'); i >= 0 {
		return key[:i]
	}
	return key
}

// File is a Source that is the text of a configuration file.
type File interface {
	Source
	// Bytes returns the current text.
	Bytes() []byte
}

// ParseFile parses a configuration file by its name: "flink-conf.yaml" in
// the legacy format, anything else (config.yaml) as standard YAML.
func ParseFile(name string, text []byte) (File, error) {
	if name == string(FormatLegacy) {
		return ParseLegacy(text)
	}
	return ParseStandard(text)
}

package flinkconf

import (
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Limits that keep what a parser builds, and what it reports, bounded by
// what it was given, whoever wrote the input.
const (
	maxDepth = 64      // nested mappings and sequences
	maxNodes = 100_000 // YAML nodes visited while flattening, aliases expanded
	// maxBuilt bounds the bytes of keys and values a parse builds: flattening
	// repeats a prefix for every key under it, and an alias repeats the text
	// of its anchor, so without it a small input could build gigabytes.
	maxBuilt = 4 * MaxSize
	// maxWarnings bounds the warnings a source keeps; the ones after it are
	// counted, not kept.
	maxWarnings = 100
	// maxWarningLen bounds a warning's message, in bytes.
	maxWarningLen = 120
	// maxExcerpt bounds the text a warning quotes from the input, in bytes.
	maxExcerpt = 40
)

// budget counts down what one parse may still build, so that it stops with
// an error naming the limit as soon as the limit is reached, not after.
type budget struct {
	nodes int
	bytes int
}

func newBudget() budget { return budget{nodes: maxNodes, bytes: maxBuilt} }

func (b *budget) spendNodes(n, line int) error {
	b.nodes -= n
	if b.nodes < 0 {
		return &ParseError{Line: line, Msg: fmt.Sprintf("expands to more than %d YAML nodes (through aliases?)", maxNodes)}
	}
	return nil
}

func (b *budget) spendBytes(n, line int) error {
	b.bytes -= n
	if b.bytes < 0 {
		return &ParseError{Line: line, Msg: fmt.Sprintf("expands to more than %d bytes of keys and values (4 MiB) once nested keys are flattened and aliases expanded; use shorter keys above nested blocks and fewer aliases", maxBuilt)}
	}
	return nil
}

// index is what every Source keeps of its definitions: the entries in the
// order Flink reads them, which one Flink uses for a key (the last), and the
// warnings, capped in number and length.
type index struct {
	entries  []Entry
	last     map[string]int // key -> index into entries; built on first need
	warnings []Warning
	dropped  int // warnings beyond maxWarnings, counted only
}

// reset empties the index for a new parse of about n entries. The old
// slices are left to whoever still holds them.
func (x *index) reset(n int) {
	*x = index{entries: make([]Entry, 0, n)}
}

// add appends a definition; it becomes the one Flink uses for its key.
// Past a few entries a map from key to definition is kept, built when the
// count passes smallIndex, so that reading never writes (a parsed Source
// may be read from several goroutines).
func (x *index) add(e Entry) {
	x.entries = append(x.entries, e)
	switch {
	case x.last != nil:
		x.last[e.Key] = len(x.entries) - 1
	case len(x.entries) > smallIndex:
		x.last = make(map[string]int, 2*len(x.entries))
		for i, e := range x.entries {
			x.last[e.Key] = i
		}
	}
}

// smallIndex is the most entries find scans instead of using the map.
const smallIndex = 16

// find returns the position in entries of the definition of key that Flink
// uses.
func (x *index) find(key string) (int, bool) {
	if x.last == nil {
		for i := len(x.entries) - 1; i >= 0; i-- {
			if x.entries[i].Key == key {
				return i, true
			}
		}
		return 0, false
	}
	i, ok := x.last[key]
	return i, ok
}

// warn records a warning; past maxWarnings it is only counted, and its
// message is cut to maxWarningLen bytes.
func (x *index) warn(line int, format string, args ...any) {
	if len(x.warnings) >= maxWarnings {
		x.dropped++
		return
	}
	x.warnings = append(x.warnings, Warning{Line: line, Message: clip(fmt.Sprintf(format, args...), maxWarningLen)})
}

// Entries implements Source.
func (x *index) Entries() []Entry { return x.entries }

// Get implements Source.
func (x *index) Get(key string) (Entry, bool) {
	i, ok := x.find(key)
	if !ok {
		return Entry{}, false
	}
	return x.entries[i], true
}

// Warnings implements Source: at most maxWarnings, then one saying how many
// more there were.
func (x *index) Warnings() []Warning {
	if x.dropped == 0 {
		return x.warnings
	}
	return append(slices.Clip(x.warnings), Warning{Message: fmt.Sprintf("%d more warnings not shown", x.dropped)})
}

// clip cuts s to at most n bytes on a character boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("...")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// excerpt quotes text from the input for a message, cut to maxExcerpt
// bytes, so that a megabyte line makes a short warning.
func excerpt(s string) string {
	if len(s) <= maxExcerpt {
		return strconv.Quote(s)
	}
	return clip(strconv.Quote(clip(s, maxExcerpt)), maxExcerpt+16)
}

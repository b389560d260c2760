package flinkconf

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// FormatProperties is FLINK_PROPERTIES as the entrypoint of the official
// images from Flink 1.19 on reads it.
const FormatProperties Format = "FLINK_PROPERTIES (Flink 1.19+ images)"

// PropertiesNested is the first release line whose image entrypoint writes
// FLINK_PROPERTIES into config.yaml as nested YAML; up to 1.18 the lines
// are appended to flink-conf.yaml and read by the legacy parser.
var PropertiesNested = V1_19

// Properties is FLINK_PROPERTIES as the docker-entrypoint.sh of the Flink
// 1.19+ images reads it (process_flink_properties): each line loses every
// white-space character, is split at its first ':' (bash's read, which
// also drops one trailing ':' of a single-field value), and becomes a
// dynamic property that config-parser-utils.sh writes into config.yaml.
// '#' starts no comment, so "k: v # note" sets k to "v#note". Only reading
// is modelled: edits go to the Legacy reading of the same text, whose
// "key: value" lines both rule sets read alike for values without blanks.
type Properties struct {
	entries  []Entry
	last     map[string]int
	warnings []Warning
}

// ParseProperties reads FLINK_PROPERTIES text by the 1.19+ image rules.
func ParseProperties(src []byte) (*Properties, error) {
	if err := checkText(src); err != nil {
		return nil, err
	}
	p := &Properties{last: map[string]int{}}
	for i, line := range bytes.Split(src, []byte{'\n'}) {
		n := i + 1
		raw := string(line)
		// tr -d '[:space:]' removes the ASCII white space, byte by byte.
		prop := strings.Map(func(r rune) rune {
			if r < utf8.RuneSelf && unicode.IsSpace(r) {
				return -1
			}
			return r
		}, raw)
		if prop == "" {
			continue
		}
		key, value, _ := strings.Cut(prop, ":")
		if strings.HasSuffix(value, ":") && !strings.Contains(value[:len(value)-1], ":") {
			value = value[:len(value)-1]
		}
		switch {
		case key == "":
			p.warnings = append(p.warnings, Warning{Line: n, Message: fmt.Sprintf("%q has no key; the Flink 1.19+ entrypoint passes it on as an empty one", strings.TrimSpace(raw))})
			continue
		case strings.HasPrefix(strings.TrimSpace(raw), "#"):
			p.warnings = append(p.warnings, Warning{Line: n, Message: fmt.Sprintf("the Flink 1.19+ entrypoint reads no comments: %q becomes key %q", strings.TrimSpace(raw), key)})
		case strings.ContainsRune(value, '#') && strings.Contains(raw, " #"):
			p.warnings = append(p.warnings, Warning{Line: n, Message: fmt.Sprintf("the Flink 1.19+ entrypoint reads no comments: %s is %q there", key, value)})
		}
		if prev, ok := p.last[key]; ok {
			p.warnings = append(p.warnings, Warning{Line: n, Message: fmt.Sprintf("%q is also set on line %d; Flink uses this line", key, p.entries[prev].Line)})
		}
		p.last[key] = len(p.entries)
		p.entries = append(p.entries, Entry{Key: key, Value: value, Line: n, Arg: -1})
	}
	return p, nil
}

// Format implements Source.
func (p *Properties) Format() Format { return FormatProperties }

// Entries implements Source.
func (p *Properties) Entries() []Entry { return p.entries }

// Warnings implements Source.
func (p *Properties) Warnings() []Warning { return p.warnings }

// Get implements Source.
func (p *Properties) Get(key string) (Entry, bool) {
	i, ok := p.last[key]
	if !ok {
		return Entry{}, false
	}
	return p.entries[i], true
}

// Set implements Source: the 1.19+ reading is not edited itself.
func (p *Properties) Set(key, _ string) (bool, error) {
	return false, &EditError{Key: key, Msg: "edit the text of FLINK_PROPERTIES, not its 1.19+ reading"}
}

// Delete implements Source: the 1.19+ reading is not edited itself.
func (p *Properties) Delete(key string) (bool, error) {
	return false, &EditError{Key: key, Msg: "edit the text of FLINK_PROPERTIES, not its 1.19+ reading"}
}

// PrefixOverlaps lists the keys of src that are both a value and the
// prefix of another key ("high-availability" beside
// "high-availability.storageDir"), each with one key it prefixes: what
// nested YAML cannot hold, in the order the keys are written.
func PrefixOverlaps(src Source) [][2]Entry {
	var out [][2]Entry
	seen := map[string]bool{}
	entries := src.Entries()
	for _, p := range entries {
		if seen[p.Key] {
			continue
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Key, p.Key+".") {
				seen[p.Key] = true
				out = append(out, [2]Entry{p, e})
				break
			}
		}
	}
	return out
}

package flinkconf

import (
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// yamlScalar writes s as a one-line YAML scalar that reads back as the
// string s: plain when yaml.v3 finds that unambiguous, else quoted, in
// single quotes where yaml.v3 can write them (the quotes configuration files
// mostly use). Edits verify the result with the parser in any case.
func yamlScalar(s string) string {
	if plainSafe(s) {
		return s
	}
	if text := encodeScalar(s, 0); !strings.HasPrefix(text, `"`) {
		return text
	}
	return encodeScalar(s, yaml.SingleQuotedStyle)
}

// plainSafe reports whether yaml.v3 writes s plain, as it is, by a rule
// that answers without building an encoder, for what edits mostly write
// (keys, class names, paths, URIs, ids): a letter or '/' first, then
// letters, digits and ". _ / - :" with no ':' last, and no word YAML 1.1
// or 1.2 reads as a boolean or null. It says false for much yaml.v3 also
// writes plain; the tests hold it to yaml.v3's choice.
func plainSafe(s string) bool {
	if s == "" || s[len(s)-1] == ':' || !(isLetter(s[0]) || s[0] == '/') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isLetter(c) && (c < '0' || c > '9') && c != '.' && c != '_' && c != '/' && c != '-' && c != ':' {
			return false
		}
	}
	if len(s) <= 5 {
		switch strings.ToLower(s) {
		case "y", "yes", "n", "no", "on", "off", "true", "false", "null":
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// encodeScalar encodes s in style (0 for yaml.v3's choice); a style that
// would take more than one line becomes double-quoted, which never does.
func encodeScalar(s string, style yaml.Style) string {
	var out []byte
	var err error
	if style == 0 {
		out, err = yaml.Marshal(s)
	} else {
		out, err = yaml.Marshal(&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s, Style: style})
	}
	text := strings.TrimSuffix(string(out), "\n")
	if (err != nil || strings.ContainsAny(text, "\n\r")) && style != yaml.DoubleQuotedStyle {
		return encodeScalar(s, yaml.DoubleQuotedStyle)
	}
	return text
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

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
	if text := encodeScalar(s, 0); !strings.HasPrefix(text, `"`) {
		return text
	}
	return encodeScalar(s, yaml.SingleQuotedStyle)
}

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

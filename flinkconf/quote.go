package flinkconf

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

var (
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
func sameTypedPlain(tag scalarTag, value string) bool {
	switch tag {
	case tagInt:
		return isDecimal(value)
	case tagBool:
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

package flinkconf

import "strings"

// MayHaveKeyWithPrefix reports, without parsing, whether config.yaml text
// can set a key that begins with one of prefixes: false is certain, true
// means parse it to know. It lets a caller skip parsing the config.yaml of
// other products. Nested or dotted, every '.'-separated part of such a key
// stands in the text as written, unless a key is written with escapes
// ('\' in a double-quoted key), which counts as a maybe.
func MayHaveKeyWithPrefix(text string, prefixes []string) bool {
	if strings.IndexByte(text, '\\') >= 0 {
		return true
	}
	for _, p := range prefixes {
		if hasEverySegment(text, p) {
			return true
		}
	}
	return false
}

func hasEverySegment(text, key string) bool {
	for seg := range strings.SplitSeq(key, ".") {
		if seg != "" && !strings.Contains(text, seg) {
			return false
		}
	}
	return true
}

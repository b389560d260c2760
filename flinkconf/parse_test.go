package flinkconf

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func billionLaughs() string {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		b.WriteString("a")
		b.WriteString(string(rune('0' + i)))
		b.WriteString(": &a")
		b.WriteString(string(rune('0' + i)))
		b.WriteString(" [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a")
			b.WriteString(string(rune('0' + i - 1)))
		}
		b.WriteString("]\n")
	}
	return b.String()
}

func deepMapping(levels int) string {
	var b strings.Builder
	for i := 0; i < levels; i++ {
		b.WriteString(strings.Repeat(" ", i))
		b.WriteString("k:\n")
	}
	b.WriteString(strings.Repeat(" ", levels))
	b.WriteString("leaf: v\n")
	return b.String()
}

func TestParseStandardRejects(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		src  string
		want *ParseError
	}{
		"invalid YAML names its line": {
			src:  "a: 1\nb: 2\n  c: 3\n",
			want: &ParseError{Line: 3, Msg: "invalid YAML: mapping values are not allowed in this context"},
		},
		"a duplicate key in one mapping is an error, as in Flink": {
			src:  "a: 1\nb: 2\na: 3\n",
			want: &ParseError{Line: 3, Msg: `duplicate key "a" (first on line 1); Flink rejects duplicate keys: keep one`},
		},
		"a nested duplicate key is an error": {
			src:  "ha:\n  type: x\n  type: y\n",
			want: &ParseError{Line: 3, Msg: `duplicate key "type" (first on line 2); Flink rejects duplicate keys: keep one`},
		},
		"an alias bomb stops at the node budget": {
			src:  billionLaughs(),
			want: &ParseError{Line: 5, Msg: "expands to more than 100000 YAML nodes (through aliases?)"},
		},
		"deep nesting stops at the depth limit": {
			src:  deepMapping(100),
			want: &ParseError{Line: 66, Msg: "nests deeper than 64 levels"},
		},
		"bytes that are not UTF-8 name their line": {
			src:  "a: 1\nb: \xff\xfe\n",
			want: &ParseError{Line: 2, Msg: "contains a byte (0xff) that is not UTF-8; save the file as UTF-8"},
		},
		"a NUL byte names its line": {
			src:  "a: 1\n\nb: x\x00y\n",
			want: &ParseError{Line: 3, Msg: "contains a NUL byte; remove it"},
		},
		"a second document is an error": {
			src:  "a: 1\n---\nb: 2\n",
			want: &ParseError{Line: 2, Msg: `holds a second YAML document; Flink reads exactly one: remove the "---" and what follows, or merge it into the first`},
		},
		"a list at the top is not configuration": {
			src:  "- a\n- b\n",
			want: &ParseError{Line: 1, Msg: "must be a YAML mapping of keys to values"},
		},
		"a list as a key is not a Flink key": {
			src:  "? [a, b]\n: c\n",
			want: &ParseError{Line: 1, Msg: "has a key that is not a plain value; Flink keys are strings"},
		},
		"an alias as a key is refused": {
			src:  "a: &k key\n*k : v\n",
			want: &ParseError{Line: 2, Msg: "uses an alias as a key; write the key out"},
		},
		"a long key above many nested keys stops at the byte budget": {
			src:  "? " + strings.Repeat("p", 100_000) + "\n:\n" + repeatTo(60_000, "", "  k%d: v", "\n", "\n"),
			want: &ParseError{Line: 43, Msg: "expands to more than 4194304 bytes of keys and values (4 MiB) once nested keys are flattened and aliases expanded; use shorter keys above nested blocks and fewer aliases"},
		},
		"aliases of a long list stop at the byte budget": {
			src:  "base: &b [" + strings.Repeat(strings.Repeat("x", 10_000)+",", 30) + "]\n" + repeatTo(1_000, "", "k%d: *b", "\n", "\n"),
			want: &ParseError{Line: 14, Msg: "expands to more than 4194304 bytes of keys and values (4 MiB) once nested keys are flattened and aliases expanded; use shorter keys above nested blocks and fewer aliases"},
		},
		"a minified JSON document of too many keys stops before YAML reads it": {
			src:  repeatTo(200_000, "{", `"key.%d":"value"`, ",", "}"),
			want: &ParseError{Line: 1, Msg: "has more than 8192 YAML separators (':', ',', '- ', '[', '{', '*'), the most a config.yaml may have; Flink's own has a few hundred"},
		},
		"a Unicode line separator is refused": {
			src:  "a: 1\u2028b: 2\n",
			want: &ParseError{Line: 1, Msg: `contains the line break U+2028, which YAML and Flink read differently from an editor; use \n`},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseStandard([]byte(tc.src))
			require.Error(t, err)
			assert.Equal(t, tc.want, err)
		})
	}
}

func TestParseRejectsOversizedText(t *testing.T) {
	t.Parallel()
	big := []byte("a: " + strings.Repeat("x", MaxSize) + "\n")
	want := &ParseError{Msg: "configuration is 1048580 bytes; at most 1048576 (1 MiB, a ConfigMap's limit) are accepted"}
	_, err := ParseStandard(big)
	assert.Equal(t, want, err)
	_, err = ParseLegacy(big)
	assert.Equal(t, want, err)
}

func TestParseAcceptsAFullMebibyte(t *testing.T) {
	t.Parallel()
	fill := func(value string) (src []byte, n int) {
		var b strings.Builder
		for {
			line := fmt.Sprintf("some.key.with.a.long.name.%07d: %s\n", n, value)
			if b.Len()+len(line) > MaxSize {
				return []byte(b.String()), n
			}
			b.WriteString(line)
			n++
		}
	}
	src, n := fill("and-a-value-that-is-not-short-either")
	l, err := ParseLegacy(src)
	require.NoError(t, err)
	assert.Len(t, l.Entries(), n)
	// config.yaml holds at most maxSeparators keys: a mebibyte of them has
	// values of a realistic length.
	src, n = fill("and-a-value-that-is-not-short-either/" + strings.Repeat("x", 60))
	require.Less(t, n, maxSeparators)
	s, err := ParseStandard(src)
	require.NoError(t, err)
	assert.Len(t, s.Entries(), n)
	changed, err := s.Set("high-availability.type", "kubernetes")
	require.NoError(t, err)
	assert.True(t, changed)
}

func TestParseLegacyRules(t *testing.T) {
	t.Parallel()
	src := "" +
		"  padded.key  :  kept  \n" + // no ": " right after the key: Flink splits at the first ": " of the trimmed line
		"a: b: c\n" + // the value holds ": "
		"quoted: \"x\"\n" + // quotes are part of the value
		"cut: before # after\n" +
		"#commented: out\n" +
		"tab:\tvalue\n" + // no ": ": skipped
		"empty: \n" +
		"url: s3://bucket/x\n" +
		"\x01ctl: y\n" // Java's trim removes control characters too
	l, err := ParseLegacy([]byte(src))
	require.NoError(t, err)
	assert.Equal(t, []Entry{
		{Key: "padded.key", Value: "kept", Line: 1, Arg: -1},
		{Key: "a", Value: "b: c", Line: 2, Arg: -1},
		{Key: "quoted", Value: `"x"`, Line: 3, Arg: -1},
		{Key: "cut", Value: "before", Line: 4, Arg: -1},
		{Key: "url", Value: "s3://bucket/x", Line: 8, Arg: -1},
		{Key: "ctl", Value: "y", Line: 9, Arg: -1},
	}, l.Entries())
	assert.Equal(t, []Warning{
		{Line: 6, Message: `Flink skips "tab:\tvalue": it has no ": " between key and value`},
		{Line: 7, Message: `Flink skips "empty:": it has no ": " between key and value`},
	}, l.Warnings())
}

func TestParseLegacyWarnsOnDuplicates(t *testing.T) {
	t.Parallel()
	l, err := ParseLegacy([]byte("a: 1\nb: 2\na: 3\n: novalue\nk: \t\n"))
	require.NoError(t, err)
	e, _ := l.Get("a")
	assert.Equal(t, "3", e.Value)
	assert.Equal(t, []Warning{
		{Line: 3, Message: `"a" is also set on line 1; Flink uses this line`},
		{Line: 4, Message: `Flink skips ": novalue": its key is empty`},
		{Line: 5, Message: `Flink skips "k:": it has no ": " between key and value`},
	}, l.Warnings())
}

func TestParseStandardValues(t *testing.T) {
	t.Parallel()
	src := `a:
  b: 1
  c: [x, y]
  d: TRUE
  e: ~
  f:
  g: 'quoted # not a comment'
list-of-maps: [{k: v}]
h: v # comment
`
	s, err := ParseStandard([]byte(src))
	require.NoError(t, err)
	got := map[string]string{}
	for _, e := range s.Entries() {
		got[e.Key] = e.Value
	}
	assert.Equal(t, map[string]string{
		"a.b": "1", "a.c": "x;y", "a.d": "true", "a.g": "quoted # not a comment",
		"list-of-maps": "k:v", "h": "v",
	}, got)
}

func TestStandardWarnsWhenNestingRepeatsAKey(t *testing.T) {
	t.Parallel()
	s, err := ParseStandard([]byte("a.b: 1\na:\n  b: 2\n"))
	require.NoError(t, err)
	e, _ := s.Get("a.b")
	assert.Equal(t, Entry{Key: "a.b", Value: "2", Line: 3, Arg: -1}, e)
	assert.Equal(t, []Warning{{Line: 3, Message: `"a.b" is also set on line 1; Flink uses this line`}}, s.Warnings())
}

func TestEditsThatAreRefused(t *testing.T) {
	t.Parallel()
	legacy := func(src string) Source {
		l, err := ParseLegacy([]byte(src))
		require.NoError(t, err)
		return l
	}
	standard := func(src string) Source {
		s, err := ParseStandard([]byte(src))
		require.NoError(t, err)
		return s
	}
	cases := map[string]struct {
		src        Source
		key, value string
		want       error
	}{
		"legacy: a value with '#' would be cut": {
			legacy("a: 1\n"), "p", "abc#def",
			&EditError{Key: "p", Msg: "the value holds '#' or a line break; flink-conf.yaml cannot hold either (Flink cuts lines at '#'); use config.yaml"},
		},
		"legacy: an empty value would be skipped": {
			legacy(""), "p", "",
			&EditError{Key: "p", Msg: "the value is empty, and Flink skips lines with an empty value"},
		},
		"legacy: a key holding \": \" would split early": {
			legacy(""), "a: b", "c",
			&EditError{Key: "a: b", Msg: `the key holds ": ", which flink-conf.yaml reads as the end of the key`},
		},
		"legacy: a value with a line break": {
			legacy(""), "p", "a\nb: c",
			&EditError{Key: "p", Msg: "the value holds '#' or a line break; flink-conf.yaml cannot hold either (Flink cuts lines at '#'); use config.yaml"},
		},
		"legacy: white space Flink would trim": {
			legacy(""), "p", " v",
			&EditError{Key: "p", Msg: "the value starts or ends with white space, which Flink trims"},
		},
		"standard: a key beside a value that is its prefix": {
			standard("high-availability: kubernetes\n"), "high-availability.type", "kubernetes",
			&EditError{Key: "high-availability.type", Msg: `"high-availability" on line 1 is a value; nested YAML cannot hold "high-availability.type" beside it`},
		},
		"standard: a prefix of existing keys": {
			standard("a:\n  b: 1\n"), "a", "x",
			&EditError{Key: "a", Msg: `"a.b" on line 2 is a value; nested YAML cannot hold "a" beside it`},
		},
		"standard: a whole flow-style document": {
			standard("{a: 1}\n"), "b", "2",
			&EditError{Key: "b", Msg: "the document is one flow-style mapping ({...}); write it as block YAML first"},
		},
		"standard: a key that lives in an anchor": {
			standard("base: &b\n  x: 1\ncopy: *b\n"), "copy.x", "2",
			&EditError{Key: "copy.x", Msg: "line 2 is in flow style or reached through an alias; edit it by hand"},
		},
		"args: a key with '='": {
			ParseArgs(nil, Supported), "a=b", "c",
			&EditError{Key: "a=b", Msg: "a dynamic property key must be non-empty without '=', a leading '\"' or white space"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			changed, err := tc.src.Set(tc.key, tc.value)
			assert.Equal(t, tc.want, err)
			assert.False(t, changed)
		})
	}
}

func TestObjectRefusesWhatJSONCannotHold(t *testing.T) {
	t.Parallel()
	_, err := ParseObject(map[string]any{"a": struct{}{}})
	assert.Equal(t, &ParseError{Msg: "flinkConfiguration holds a struct {}, which JSON cannot"}, err)
}

func TestObjectWarnsOnTwoSpellingsOfOneKey(t *testing.T) {
	t.Parallel()
	o, err := ParseObject(map[string]any{"a.b": "1", "a": map[string]any{"b": "2"}})
	require.NoError(t, err)
	assert.Equal(t, []Warning{{Message: `"a.b" is set twice, nested and flat: keep one, the operator may read either`}}, o.Warnings())
}

func TestParseDoesNotTouchTheCallersMap(t *testing.T) {
	t.Parallel()
	in := map[string]any{"ha": map[string]any{"x": "1"}}
	o, err := ParseObject(in)
	require.NoError(t, err)
	_, err = o.Set("ha.type", "kubernetes")
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"ha": map[string]any{"x": "1"}}, in)
}

func TestWarningsAreCappedInNumberAndLength(t *testing.T) {
	t.Parallel()
	l, err := ParseLegacy([]byte(repeatTo(10_000, "", "bad line %d", "\n", "\n") + strings.Repeat("x", 1<<19) + "\n"))
	require.NoError(t, err)
	w := l.Warnings()
	require.Len(t, w, maxWarnings+1)
	assert.Equal(t, Warning{Line: 1, Message: `Flink skips "bad line 0": it has no ": " between key and value`}, w[0])
	assert.Equal(t, Warning{Message: "677 more warnings not shown"}, w[maxWarnings])
	for _, x := range w {
		assert.LessOrEqual(t, len(x.Message), maxWarningLen, x.Message)
	}
	l, err = ParseLegacy([]byte(strings.Repeat("x", 1<<19) + "\n"))
	require.NoError(t, err)
	assert.Equal(t, []Warning{{Line: 1, Message: `Flink skips "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...": it has no ": " between key and value`}}, l.Warnings())
}

func TestMayHaveKeyWithPrefix(t *testing.T) {
	t.Parallel()
	prefixes := []string{"jobmanager", "kubernetes.cluster-id", "state.checkpoints."}
	cases := map[string]struct {
		text string
		want bool
	}{
		"another product's config.yaml is ruled out":         {"issuer: https://dex\nstorage:\n  type: kubernetes\n", false},
		"one segment of a two-segment prefix is not enough":  {"kubernetes:\n  namespace: x\n", false},
		"a dotted key may match":                             {"kubernetes.cluster-id: x\n", true},
		"a nested key may match":                             {"kubernetes:\n  cluster-id: x\n", true},
		"a prefix ending in a dot needs its other segments":  {"state:\n  checkpoints:\n    dir: s3://x\n", true},
		"a key written with escapes cannot be ruled out":     {"\"job\\x6danager.memory\": 1g\n", true},
		"a value that names the words is a maybe, not a yes": {"note: jobmanager\n", true},
		"an empty text is ruled out":                         {"", false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tc.want, MayHaveKeyWithPrefix(tc.text, prefixes))
		})
	}
}

func TestStandardWarningsAreCapped(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	for i := range 300 {
		fmt.Fprintf(&b, "a%d.b: 1\na%d:\n  b: 2\n", i, i)
	}
	s, err := ParseStandard([]byte(b.String()))
	require.NoError(t, err)
	w := s.Warnings()
	require.Len(t, w, maxWarnings+1)
	assert.Equal(t, Warning{Line: 3, Message: `"a0.b" is also set on line 1; Flink uses this line`}, w[0])
	assert.Equal(t, Warning{Message: "200 more warnings not shown"}, w[maxWarnings])
}

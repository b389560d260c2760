package flinkconf

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The expectations follow process_flink_properties of the Flink 1.19+
// images' docker-entrypoint.sh, run in bash on the same text.
func TestParseProperties(t *testing.T) {
	t.Parallel()
	type kv struct{ Key, Value string }
	cases := map[string]struct {
		text     string
		want     []kv
		warnings []string
	}{
		"white space goes, the first colon splits": {
			text: "a: b\n\t t.a : 1 2 \nurl: s3://b/p\n",
			want: []kv{{"a", "b"}, {"t.a", "12"}, {"url", "s3://b/p"}},
		},
		"no space is needed after the colon, which the legacy parser skips": {
			text: "high-availability.type:kubernetes\n",
			want: []kv{{"high-availability.type", "kubernetes"}},
		},
		"bash's read drops one trailing colon of a single-field value only": {
			text: "x:y:\nv:a:b\nw::\nu:y::\n",
			want: []kv{{"x", "y"}, {"v", "a:b"}, {"w", ""}, {"u", "y::"}},
		},
		"there are no comments": {
			text:     "# note: yes\nk: v # c\n",
			want:     []kv{{"#note", "yes"}, {"k", "v#c"}},
			warnings: []string{`line 1: the Flink 1.19+ entrypoint reads no comments: "# note: yes" becomes key "#note"`, `line 2: the Flink 1.19+ entrypoint reads no comments: k is "v#c" there`},
		},
		"a line without a colon is a key without value": {
			text: "nocolon\n",
			want: []kv{{"nocolon", ""}},
		},
		"a line without a key is passed on empty": {
			text:     ":empty\n",
			warnings: []string{`line 1: ":empty" has no key; the Flink 1.19+ entrypoint passes it on as an empty one`},
		},
		"the last definition wins": {
			text:     "a: 1\na: 2\n",
			want:     []kv{{"a", "1"}, {"a", "2"}},
			warnings: []string{`line 2: "a" is also set on line 1; Flink uses this line`},
		},
	}
	for name, tc := range cases {
		p, err := ParseProperties([]byte(tc.text))
		require.NoError(t, err, name)
		var got []kv
		for _, e := range p.Entries() {
			got = append(got, kv{e.Key, e.Value})
		}
		var warnings []string
		for _, w := range p.Warnings() {
			warnings = append(warnings, w.String())
		}
		assert.Equal(t, tc.want, got, name)
		assert.Equal(t, tc.warnings, warnings, name)
	}
	p, err := ParseProperties([]byte("a: 1\na: 2\n"))
	require.NoError(t, err)
	e, _ := p.Get("a")
	assert.Equal(t, "2", e.Value)
	_, err = p.Set("a", "3")
	assert.Error(t, err, "the reading is not edited itself")
}

func TestPrefixOverlaps(t *testing.T) {
	t.Parallel()
	p, err := ParseProperties([]byte("high-availability: kubernetes\nhigh-availability.storageDir: s3://b\nstate.backend.type: rocksdb\n"))
	require.NoError(t, err)
	got := PrefixOverlaps(p)
	require.Len(t, got, 1)
	assert.Equal(t, []string{"high-availability", "high-availability.storageDir"}, []string{got[0][0].Key, got[0][1].Key})
}

// FuzzProperties: any text is read without a panic into keys with neither
// white space nor a colon, whose last definition Get returns.
func FuzzProperties(f *testing.F) {
	for _, s := range []string{"a: b\n", "x:y:\n# c: d\n", ":v\n\n \t\n", "k: v # c\r\nk:w\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		p, err := ParseProperties([]byte(text))
		if err != nil {
			return
		}
		for _, e := range p.Entries() {
			if e.Key == "" || strings.ContainsAny(e.Key, ": \t\r\n") {
				t.Fatalf("key %q of %q", e.Key, text)
			}
			if got, ok := p.Get(e.Key); !ok || got.Line < e.Line {
				t.Fatalf("Get(%q) = %v, %v: not the last definition", e.Key, got, ok)
			}
		}
	})
}

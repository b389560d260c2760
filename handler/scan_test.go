package handler

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

// stringEndByByte is stringEnd as a plain walk over every byte: the
// definition the quote-to-quote jumps must agree with.
func stringEndByByte(d []byte, i int) int {
	for i++; i < len(d); i++ {
		switch d[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(d)
}

func TestStringEnd(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		d    string
		want int
	}{
		"a plain string ends after its closing quote":        {`"abc",`, 5},
		"an empty string ends after two quotes":              {`""x`, 2},
		"an escaped quote does not end the string":           {`"a\"b"c`, 6},
		"an escaped backslash before a quote ends it":        {`"a\\"b"`, 5},
		"three backslashes escape the quote after them":      {`"a\\\"b"`, 8},
		"a backslash right after the opening quote escapes":  {`"\""`, 4},
		"an unterminated string runs to the end":             {`"abc`, 4},
		"an unterminated string ending in a backslash stops": {`"abc\`, 5},
		"an escaped quote at the end leaves it unterminated": {`"abc\"`, 6},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tc.want, stringEnd([]byte(tc.d), 0))
			assert.Equal(t, tc.want, stringEndByByte([]byte(tc.d), 0), "the reference disagrees with the case")
		})
	}
}

func FuzzStringEnd(f *testing.F) {
	for _, s := range []string{`"a"`, `"a\"b"`, `"\\\\"`, `"\\\"x"`, `"`, `"\`, `x"\\"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, d []byte) {
		for i := range d {
			if got, want := stringEnd(d, i), stringEndByByte(d, i); got != want {
				t.Fatalf("stringEnd(%q, %d) = %d, want %d", d, i, got, want)
			}
		}
	})
}

// BenchmarkLookup finds the request's kind and object in a review whose
// object holds a long configuration text, as a ConfigMap's flink-conf.yaml
// written with \n escapes: the walk that precedes every typed decode.
func BenchmarkLookup(b *testing.B) {
	var text []byte
	for i := 0; len(text) < 64<<10; i++ {
		text = fmt.Appendf(text, `taskmanager.option-%d: \"value %d\"\n`, i, i)
	}
	body := fmt.Appendf(nil, `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"","version":"v1","kind":"ConfigMap"},"object":{"metadata":{"name":"c"},"data":{"flink-conf.yaml":"%s"}}}}`, text)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		request, _, ok := lookup(body, "request", "")
		if !ok {
			b.Fatal("no request")
		}
		if _, _, ok := lookup(request, "kind", "object"); !ok {
			b.Fatal("no kind or object")
		}
	}
}

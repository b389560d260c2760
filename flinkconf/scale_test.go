package flinkconf

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// shape is an input that grows with n bytes, in the forms anyone who can
// create a ConfigMap or a FlinkDeployment may send. Each shape's cost must
// grow linearly with n: BenchmarkScaling shows the times, TestWorkIsLinear
// holds the allocated bytes to it without a clock.
type shape struct {
	name string
	run  func(tb testing.TB, n int) // builds an input of about n bytes and reads it
	// input builds the input alone, so that its own cost can be subtracted.
	input func(n int) any
}

// repeatTo repeats unit until the text is about n bytes long.
func repeatTo(n int, head, unit, sep, tail string) string {
	var b strings.Builder
	n -= len(tail) + 32 // the largest size stays within MaxSize
	b.Grow(n + len(head) + len(tail) + 64)
	b.WriteString(head)
	for i := 0; b.Len() < n; i++ {
		if i > 0 {
			b.WriteString(sep)
		}
		fmt.Fprintf(&b, unit, i)
	}
	b.WriteString(tail)
	return b.String()
}

// parseStandardAny reads text and applies the HA edit when it parses: the
// errors a shape runs into (a limit) are part of what is measured.
func parseStandardAny(tb testing.TB, src string) {
	s, err := ParseStandard([]byte(src))
	if err != nil {
		return
	}
	_, _ = s.Set("high-availability.type", "kubernetes")
	c := Config{Layers: []Layer{{Name: "config.yaml", Source: s}}}
	_ = c.Conflicts()
}

func textShape(name string, gen func(n int) string, read func(tb testing.TB, src string)) shape {
	return shape{
		name:  name,
		input: func(n int) any { return gen(n) },
		run:   func(tb testing.TB, n int) { read(tb, gen(n)) },
	}
}

var shapes = []shape{
	// config.yaml written as one line of minified JSON.
	textShape("minified-json", func(n int) string { return repeatTo(n, "{", `"key.%d":"value"`, ",", "}") }, parseStandardAny),
	// One key holding a flow list.
	textShape("flow-list", func(n int) string { return repeatTo(n, "a: [", "x%d", ", ", "]\n") }, parseStandardAny),
	// A nested flow mapping.
	textShape("flow-mapping", func(n int) string { return repeatTo(n, "a: {", "k%d: v", ", ", "}\n") }, parseStandardAny),
	// Many keys, one a line, each a prefix of the next: the nested-key
	// conflict check's worst case.
	textShape("many-keys", func(n int) string { return repeatTo(n, "", "k%d: v", "\n", "\n") }, parseStandardAny),
	textShape("nested-blocks", func(n int) string {
		return repeatTo(n, "", "g%d:\n  a:\n    b: 1\n  c: 2", "\n", "\n")
	}, parseStandardAny),
	// A nested key beside the same key written with dots, over and over: a
	// warning each.
	textShape("repeated-keys", func(n int) string {
		return repeatTo(n, "", "a%[1]d.b: 1\na%[1]d:\n  b: 2", "\n", "\n")
	}, parseStandardAny),
	// One anchor and many aliases to it.
	textShape("aliases", func(n int) string {
		return repeatTo(n, "base: &b [x, y, z]\n", "k%d: *b", "\n", "\n")
	}, parseStandardAny),
	// A long key with many keys under it: flattening repeats the prefix.
	textShape("long-prefix", func(n int) string {
		return repeatTo(n, "? "+strings.Repeat("p", n/4)+"\n:\n", "  k%d: v", "\n", "\n")
	}, parseStandardAny),
	// Deep nesting of flow lists.
	textShape("deep-flow", func(n int) string {
		return "a: " + strings.Repeat("[", n/2-8) + strings.Repeat("]", n/2-8) + "\n"
	}, parseStandardAny),
	// One line of n bytes, in each text format.
	textShape("long-line-standard", func(n int) string { return "a: " + strings.Repeat("x", n-8) + "\n" }, parseStandardAny),
	textShape("long-line-legacy", func(n int) string { return strings.Repeat("x", n-8) + "\n" }, parseLegacyAny),
	// Lines Flink skips in flink-conf.yaml: a warning each.
	textShape("legacy-warnings", func(n int) string { return repeatTo(n, "", "bad line %d", "\n", "\n") }, parseLegacyAny),
	textShape("legacy-duplicates", func(n int) string { return repeatTo(n, "", "a: %d", "\n", "\n") }, parseLegacyAny),
	// A flinkConfiguration with many keys, each a prefix of the next.
	{
		name: "object-keys",
		input: func(n int) any {
			m := map[string]any{}
			key := "k"
			for size := 0; size < n; size += 16 {
				m[fmt.Sprintf("g%d.%s", size%97, key)] = "v"
				key = fmt.Sprintf("k%d", size)
			}
			return m
		},
	},
}

func init() {
	for i := range shapes {
		if shapes[i].name == "object-keys" {
			in := shapes[i].input
			shapes[i].run = func(tb testing.TB, n int) {
				o, err := ParseObject(in(n).(map[string]any))
				if err != nil {
					return
				}
				_, _ = o.Set("high-availability.type", "kubernetes")
				c := Config{Layers: []Layer{{Name: "flinkConfiguration", Source: o}}}
				_ = c.Conflicts()
			}
		}
	}
}

func parseLegacyAny(_ testing.TB, src string) {
	l, err := ParseLegacy([]byte(src))
	if err != nil {
		return
	}
	_, _ = l.Set("high-availability.type", "kubernetes")
	_ = l.Warnings()
}

// scalingSizes double from 64 KiB to the largest ConfigMap.
var scalingSizes = []int{16 << 10, 32 << 10, 64 << 10, 128 << 10, 256 << 10, 512 << 10, 1 << 20}

// BenchmarkScaling reads each worst shape at doubling sizes: time per
// operation must double with the size, not quadruple. The input is built
// inside the loop, so subtract the generator's share, which is linear.
func BenchmarkScaling(b *testing.B) {
	for _, sh := range shapes {
		for _, n := range scalingSizes {
			b.Run(fmt.Sprintf("%s/%dKiB", sh.name, n>>10), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(n))
				for b.Loop() {
					sh.run(b, n)
				}
			})
		}
	}
}

// allocated is the number of bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestWorkIsLinear catches a quadratic path without a clock: the bytes a
// shape allocates (inputs excluded) may at most double, with some slack,
// when its input doubles.
func TestWorkIsLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("reads inputs of up to 1 MiB")
	}
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			work := func(n int) uint64 {
				total := allocated(func() { sh.run(t, n) })
				input := allocated(func() { _ = sh.input(n) })
				if total < input {
					return 0
				}
				return total - input
			}
			small, large := work(16<<10), work(32<<10)
			if small < 16<<10 {
				small = 16 << 10 // a shape refused early costs next to nothing
			}
			ratio := float64(large) / float64(small)
			t.Logf("%s: %d -> %d bytes allocated, ratio %.2f", sh.name, small, large, ratio)
			if ratio > 2.6 {
				t.Errorf("%s: doubling the input multiplied the bytes allocated by %.2f (%d -> %d); some path is not linear", sh.name, ratio, small, large)
			}
		})
	}
}

// TestPositionsAreWalkedOnce counts the steps of turning yaml.v3's line and
// column into byte offsets: a one-line document of thousands of keys must
// be walked once, not once per key.
func TestPositionsAreWalkedOnce(t *testing.T) {
	t.Parallel()
	for _, src := range []string{
		repeatTo(16<<10, "{", `"key.%d":"välue"`, ",", "}"),
		repeatTo(16<<10, "a: {", "k%d: [x, y]", ", ", "}\n"),
		repeatTo(16<<10, "", "k%d: v # ünïcode", "\n", "\n"),
	} {
		s, err := ParseStandard([]byte(src))
		require.NoError(t, err)
		assert.LessOrEqual(t, s.pos.walked, len(src), "characters walked for %d bytes", len(src))
	}
}

// TestFirstUnderIsThePrefixRule holds the linear nested-key check to its
// definition: the first entry whose key starts with the key and a '.'.
func TestFirstUnderIsThePrefixRule(t *testing.T) {
	t.Parallel()
	keys := []string{"a", "a.b", "", ".x", "a.", "a..b", "a.b.c", "ab", "a.b", "b.a", "a.bc", "x..", "x."}
	var entries []Entry
	for _, k := range keys {
		entries = append(entries, Entry{Key: k})
	}
	got := firstUnder(entries)
	for i, p := range entries {
		want := -1
		for j, e := range entries {
			if strings.HasPrefix(e.Key, p.Key+".") {
				want = j
				break
			}
		}
		assert.Equal(t, want, got[i], "key %q", p.Key)
	}
}

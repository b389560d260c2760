package flinkconf

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// typicalLegacy is a 100-line flink-conf.yaml: keys, comments, blank lines.
func typicalLegacy() []byte {
	var b strings.Builder
	for i := 0; i < 100; i++ {
		switch i % 5 {
		case 0:
			fmt.Fprintf(&b, "# section %d\n", i)
		case 4:
			b.WriteString("\n")
		default:
			fmt.Fprintf(&b, "group%d.option-%d: value-%d\n", i/10, i, i)
		}
	}
	return []byte(b.String())
}

// typicalStandard is a 100-line config.yaml with nested blocks.
func typicalStandard() []byte {
	var b strings.Builder
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&b, "# block %d\ngroup%d:\n  option-a: value-%d\n  nested:\n    option-b: %d\n", i, i, i, i)
	}
	b.WriteString("high-availability:\n  cluster-id: bench\n")
	return []byte(b.String())
}

func typicalArgs() []string {
	args := []string{"standalone-job", "--job-classname", "com.example.Job"}
	for i := 0; i < 20; i++ {
		args = append(args, "-D", fmt.Sprintf("group.option-%d=value-%d", i, i))
	}
	return args
}

func typicalObject() map[string]any {
	m := map[string]any{}
	for i := 0; i < 30; i++ {
		m[fmt.Sprintf("group%d.option-%d", i%5, i)] = fmt.Sprintf("value-%d", i)
	}
	m["high-availability"] = map[string]any{"cluster-id": "bench"}
	return m
}

// BenchmarkParseAndEdit measures what the webhook does per configuration:
// parse it and apply the HA edit (two keys).
// unseen are copies of src, each with a comment of its own, more of them
// than parsed keeps: parsed one after another, each is parsed in full.
func unseen(src []byte) [][]byte {
	out := make([][]byte, 4*parsedEntries)
	for i := range out {
		out[i] = fmt.Appendf(slices.Clip(src), "# copy %d\n", i)
	}
	return out
}

func BenchmarkParseAndEdit(b *testing.B) {
	haEdit := func(b *testing.B, s Source) {
		if _, err := s.Set("high-availability.type", "kubernetes"); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Set("high-availability.storageDir", "s3://flink-ha/recovery"); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("legacy", func(b *testing.B) {
		src := typicalLegacy()
		b.SetBytes(int64(len(src)))
		b.ReportAllocs()
		for b.Loop() {
			l, err := ParseLegacy(src)
			if err != nil {
				b.Fatal(err)
			}
			haEdit(b, l)
		}
	})
	b.Run("standard", func(b *testing.B) {
		srcs := unseen(typicalStandard())
		b.SetBytes(int64(len(srcs[0])))
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			s, err := ParseStandard(srcs[i%len(srcs)])
			if err != nil {
				b.Fatal(err)
			}
			i++
			haEdit(b, s)
		}
	})
	b.Run("standard-parsed-before", func(b *testing.B) {
		src := typicalStandard()
		b.SetBytes(int64(len(src)))
		b.ReportAllocs()
		for b.Loop() {
			s, err := ParseStandard(src)
			if err != nil {
				b.Fatal(err)
			}
			haEdit(b, s)
		}
	})
	b.Run("args", func(b *testing.B) {
		args := typicalArgs()
		b.ReportAllocs()
		for b.Loop() {
			haEdit(b, ParseArgs(args, Supported))
		}
	})
	b.Run("object", func(b *testing.B) {
		m := typicalObject()
		b.ReportAllocs()
		for b.Loop() {
			o, err := ParseObject(m)
			if err != nil {
				b.Fatal(err)
			}
			haEdit(b, o)
		}
	})
}

// BenchmarkParse measures reading alone, for the validating path.
func BenchmarkParse(b *testing.B) {
	b.Run("legacy", func(b *testing.B) {
		src := typicalLegacy()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ParseLegacy(src); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("standard", func(b *testing.B) {
		srcs := unseen(typicalStandard())
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := ParseStandard(srcs[i%len(srcs)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

package flinkconf

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	yaml "go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite the golden *.out.* files from the current output")

// edit is one line of a case's .edits file: "set KEY VALUE", "delete KEY" or
// "versions 2.0-2.1", the release lines that read the case (args only; all
// supported ones by default). Without an .edits file a case gets the HA edit.
type edit struct {
	op, key, value string
}

var haEdit = []edit{
	{"set", "high-availability.type", "kubernetes"},
	{"set", "high-availability.storageDir", "s3://flink-ha/recovery"},
}

func readEdits(t *testing.T, path string) (edits []edit, versions Range) {
	versions = Supported
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return haEdit, versions
	}
	require.NoError(t, err)
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		f := strings.SplitN(strings.TrimSpace(sc.Text()), " ", 3)
		switch {
		case f[0] == "" || strings.HasPrefix(f[0], "#"):
		case f[0] == "set" && len(f) == 3:
			edits = append(edits, edit{"set", f[1], f[2]})
		case f[0] == "delete" && len(f) == 2:
			edits = append(edits, edit{"delete", f[1], ""})
		case f[0] == "versions" && len(f) == 2:
			lo, hi, _ := strings.Cut(f[1], "-")
			if hi == "" {
				hi = lo
			}
			var ok1, ok2 bool
			versions.Min, ok1 = ParseVersion(lo)
			versions.Max, ok2 = ParseVersion(hi)
			require.True(t, ok1 && ok2, "%s: bad versions %q", path, f[1])
		default:
			t.Fatalf("%s: bad edit line %q", path, sc.Text())
		}
	}
	return edits, versions
}

// goldenFormat knows how to read a case's input into a Source and write the
// Source back out.
type goldenFormat struct {
	dir   string
	parse func(t *testing.T, in []byte, versions Range) Source
	write func(t *testing.T, s Source) []byte
}

var goldenFormats = []goldenFormat{
	{
		dir: "legacy",
		parse: func(t *testing.T, in []byte, _ Range) Source {
			s, err := ParseLegacy(in)
			require.NoError(t, err)
			return s
		},
		write: func(_ *testing.T, s Source) []byte { return s.(*Legacy).Bytes() },
	},
	{
		dir: "standard",
		parse: func(t *testing.T, in []byte, _ Range) Source {
			s, err := ParseStandard(in)
			require.NoError(t, err)
			return s
		},
		write: func(_ *testing.T, s Source) []byte { return s.(*Standard).Bytes() },
	},
	{
		dir: "args",
		parse: func(t *testing.T, in []byte, versions Range) Source {
			var args []string
			require.NoError(t, yaml.Unmarshal(in, &args))
			return ParseArgs(args, versions)
		},
		write: func(t *testing.T, s Source) []byte {
			out, err := yaml.Marshal(s.(*Args).Args())
			require.NoError(t, err)
			return out
		},
	},
	{
		dir: "object",
		parse: func(t *testing.T, in []byte, _ Range) Source {
			var m map[string]any
			require.NoError(t, json.Unmarshal(in, &m))
			s, err := ParseObject(m)
			require.NoError(t, err)
			return s
		},
		write: func(t *testing.T, s Source) []byte {
			out, err := json.MarshalIndent(s.(*Object).Map(), "", "  ")
			require.NoError(t, err)
			return append(out, '\n')
		},
	},
}

func effective(s Source) map[string]string {
	out := map[string]string{}
	for _, e := range s.Entries() {
		out[e.Key] = e.Value
	}
	return out
}

func apply(t *testing.T, s Source, edits []edit) (changed bool) {
	for _, e := range edits {
		var c bool
		var err error
		if e.op == "set" {
			c, err = s.Set(e.key, e.value)
		} else {
			c, err = s.Delete(e.key)
		}
		require.NoError(t, err, "%s %s", e.op, e.key)
		changed = changed || c
	}
	return changed
}

// TestGolden runs every testdata/<format>/<case>.in.* through its edits and
// compares with <case>.out.*; then it checks that the output reads back the
// edited values and every other key unchanged, and that editing the output
// again changes nothing.
func TestGolden(t *testing.T) {
	total := 0
	for _, f := range goldenFormats {
		ins, err := filepath.Glob(filepath.Join("testdata", f.dir, "*.in.*"))
		require.NoError(t, err)
		total += len(ins)
		for _, in := range ins {
			name := strings.SplitN(filepath.Base(in), ".in.", 2)[0]
			ext := strings.SplitN(filepath.Base(in), ".in.", 2)[1]
			base := filepath.Join("testdata", f.dir, name)
			t.Run(f.dir+"/"+name, func(t *testing.T) {
				t.Parallel()
				src, err := os.ReadFile(in)
				require.NoError(t, err)
				edits, versions := readEdits(t, base+".edits")

				s := f.parse(t, src, versions)
				before := effective(s)
				apply(t, s, edits)
				got := f.write(t, s)

				outPath := base + ".out." + ext
				if *update {
					require.NoError(t, os.WriteFile(outPath, got, 0o644))
				}
				want, err := os.ReadFile(outPath)
				require.NoError(t, err, "no golden output yet: run go test ./flinkconf -run TestGolden -update")
				assert.Equal(t, string(want), string(got))

				again := f.parse(t, got, versions)
				after := effective(again)
				for _, e := range edits {
					if e.op == "set" {
						before[e.key] = e.value
					} else {
						delete(before, e.key)
					}
				}
				assert.Equal(t, before, after, "the output must read back the edits and every other key unchanged")

				assert.False(t, apply(t, again, edits), "a second pass must change nothing")
				assert.Equal(t, string(got), string(f.write(t, again)), "a second pass must leave the bytes alone")
			})
		}
	}
	if total < 40 {
		t.Errorf("only %d golden cases; the suite promises at least 40", total)
	}
}

package flinkconf

import (
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkEdit is the property every Source keeps: after Set, the source reads
// back value for key and every other key as before; a second Set changes
// nothing; Delete removes key and only key. reparse reads the source's
// current output from scratch.
func checkEdit(t *testing.T, s Source, key, value string, reparse func(Source) (Source, error)) {
	before := make(map[string]string)
	for _, e := range s.Entries() {
		before[e.Key] = e.Value
	}
	changed, err := s.Set(key, value)
	if err != nil {
		var ee *EditError
		if !errors.As(err, &ee) {
			t.Fatalf("Set returned %T, want *EditError: %v", err, err)
		}
		if changed {
			t.Fatalf("Set failed but reported a change")
		}
		return
	}
	after, err := reparse(s)
	if err != nil {
		t.Fatalf("the edited source does not parse: %v", err)
	}
	want := maps.Clone(before)
	want[key] = value
	got := make(map[string]string)
	for _, e := range after.Entries() {
		got[e.Key] = e.Value
	}
	if !maps.Equal(want, got) {
		t.Fatalf("after Set(%q, %q):\nwant %q\ngot  %q", key, value, want, got)
	}
	if changed, err := after.Set(key, value); err != nil || changed {
		t.Fatalf("a second Set changed %v, err %v", changed, err)
	}
	if _, err := after.Delete(key); err != nil {
		var ee *EditError
		if !errors.As(err, &ee) {
			t.Fatalf("Delete returned %T: %v", err, err)
		}
		return
	}
	gone, err := reparse(after)
	if err != nil {
		t.Fatalf("the source does not parse after Delete: %v", err)
	}
	delete(want, key)
	got = make(map[string]string)
	for _, e := range gone.Entries() {
		got[e.Key] = e.Value
	}
	if !maps.Equal(want, got) {
		t.Fatalf("after Delete(%q):\nwant %q\ngot  %q", key, want, got)
	}
}

func seedFiles(f *testing.F, dir string) {
	paths, _ := filepath.Glob(filepath.Join("testdata", dir, "*.in.*"))
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw, "high-availability.type", "kubernetes")
		f.Add(raw, "high-availability.storageDir", "s3://flink-ha/recovery")
	}
}

func FuzzLegacy(f *testing.F) {
	seedFiles(f, "legacy")
	f.Add([]byte("a: b\r\nc: d"), "c", "e # f")
	f.Fuzz(func(t *testing.T, src []byte, key, value string) {
		l, err := ParseLegacy(src)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseLegacy returned %T: %v", err, err)
			}
			return
		}
		checkEdit(t, l, key, value, func(s Source) (Source, error) { return ParseLegacy(s.(*Legacy).Bytes()) })
	})
}

func FuzzStandard(f *testing.F) {
	seedFiles(f, "standard")
	f.Add([]byte("a:\n  b: 1\n"), "a.c", "x: y")
	f.Add([]byte("a: &x {b: 1}\nc: *x\n"), "c.b", "2")
	f.Fuzz(func(t *testing.T, src []byte, key, value string) {
		s, err := ParseStandard(src)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseStandard returned %T: %v", err, err)
			}
			return
		}
		for _, e := range s.Entries()[:min(20, len(s.Entries()))] {
			if !MayHaveKeyWithPrefix(string(src), []string{e.Key}) {
				t.Fatalf("MayHaveKeyWithPrefix rules out %q, which the text sets", e.Key)
			}
		}
		checkEdit(t, s, key, value, func(s Source) (Source, error) { return ParseStandard(s.(*Standard).Bytes()) })
	})
}

func FuzzArgs(f *testing.F) {
	f.Add("jobmanager\n$(POD_IP)\n-D\na=b", 0, "high-availability.type", "kubernetes")
	f.Add("standalone-job\n-Dx=y\n--job-classname\nX\n--input\n-Dy=z", 1, "x", "z")
	f.Add("taskmanager\n-D\nk\nv\n-nDa", 2, "k", "w")
	f.Add("-D", 0, "a", "b")
	f.Add("standalone-job\n--jars\na.jar\nb.jar\n-Dk=v\n--webui-port\n1\n-D\nx=y", 3, "k", "w")
	f.Add("standalone-job\n--jars\n-D\na=b\n--\n-Dc=d", 4, "a", "c")
	f.Add("jobmanager\nh\n8081\n-D\na=b\n--host\nx\n-c", 2, "a", "b")
	f.Add("jobmanager\n\n8081\n-D\na=b", 5, "a", "c")
	f.Add("jobmanager\n-Dx=y", 5, "x", "z")
	f.Fuzz(func(t *testing.T, joined string, line int, key, value string) {
		// line picks the release lines: all, 1.x, 2.x, 1.15-1.18 or
		// 1.19-1.20, the ranges where the entrypoints' options differ, or
		// the 1.15.0 to 1.15.2 images.
		ranges := []Range{Supported, {Min: V1_15, Max: V1_20}, {Min: V2_0, Max: V2_1}, {Min: V1_15, Max: V1_18}, {Min: V1_19, Max: V1_20}}
		pick := (line%(len(ranges)+1) + len(ranges) + 1) % (len(ranges) + 1)
		versions, parse := Exactly(V1_15), ParseArgsPre1153
		if pick < len(ranges) {
			versions = ranges[pick]
			parse = func(args []string) *Args { return ParseArgs(args, versions) }
		}
		a := parse(strings.Split(joined, "\n"))
		// The parts of the lines cover versions in order, and each part
		// counts at least the properties every line counts.
		lines := a.Lines()
		if len(lines) == 0 || lines[0].Min != versions.Min || lines[len(lines)-1].Max != versions.Max {
			t.Fatalf("Lines() = %v, not a cover of %v", lines, versions)
		}
		for i, l := range lines {
			if i > 0 && !lines[i-1].Max.Less(l.Min) {
				t.Fatalf("Lines() = %v: parts out of order", lines)
			}
			if part := ParseArgs(a.Args(), l); len(part.Entries()) < len(a.Entries()) {
				t.Fatalf("the lines %v count %d properties, fewer than the %d every line counts", l, len(part.Entries()), len(a.Entries()))
			}
		}
		checkEdit(t, a, key, value, func(s Source) (Source, error) { return parse(s.(*Args).Args()), nil })
	})
}

func FuzzObject(f *testing.F) {
	seedFiles(f, "object")
	f.Add([]byte(`{"a":{"b":1},"a.c":[1,"x"]}`), "a.d", "v")
	f.Fuzz(func(t *testing.T, raw []byte, key, value string) {
		var m map[string]any
		if json.Unmarshal(raw, &m) != nil {
			return
		}
		o, err := ParseObject(m)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseObject returned %T: %v", err, err)
			}
			return
		}
		checkEdit(t, o, key, value, func(s Source) (Source, error) { return ParseObject(s.(*Object).Map()) })
	})
}

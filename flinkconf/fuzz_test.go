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
		checkEdit(t, s, key, value, func(s Source) (Source, error) { return ParseStandard(s.(*Standard).Bytes()) })
	})
}

func FuzzArgs(f *testing.F) {
	f.Add("jobmanager\n$(POD_IP)\n-D\na=b", 1, "high-availability.type", "kubernetes")
	f.Add("standalone-job\n-Dx=y\n--job-classname\nX", 1, "x", "z")
	f.Add("-D", 0, "a", "b")
	f.Fuzz(func(t *testing.T, joined string, insertAt int, key, value string) {
		a := ParseArgs(strings.Split(joined, "\n"), insertAt)
		checkEdit(t, a, key, value, func(s Source) (Source, error) { return ParseArgs(s.(*Args).Args(), insertAt), nil })
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

// FuzzScanBlock checks the fast path against the full YAML parser: wherever
// scanBlock accepts a text, yaml.v3 must accept it too and build the same
// tree, pair for pair.
func FuzzScanBlock(f *testing.F) {
	seedFiles(f, "standard")
	f.Add([]byte("a: 'it''s'\nb: \"x\" # c\nc:\n  d: True\n  e: ~\nf: -1\n"), "", "")
	f.Fuzz(func(t *testing.T, src []byte, _, _ string) {
		if checkText(src) != nil {
			return
		}
		fast := &Standard{src: src}
		if err := fast.parse(); err != nil {
			return // a NEL or LS: neither path runs
		}
		if !fast.scanBlock() {
			return
		}
		full := &Standard{src: src, text: string(src), lines: fast.lines}
		if err := full.parseYAML(); err != nil {
			t.Fatalf("the fast path accepted what YAML rejects: %v", err)
		}
		if (fast.root < 0) != (full.root < 0) {
			t.Fatalf("root: fast %d, full %d", fast.root, full.root)
		}
		if fast.root < 0 {
			return
		}
		comparePairs(t, fast, fast.root, full, full.root)
	})
}

func comparePairs(t *testing.T, fast *Standard, fm int32, full *Standard, um int32) {
	fp, up := fast.maps[fm].first, full.maps[um].first
	for fp >= 0 && up >= 0 {
		a, b := fast.pairs[fp], full.pairs[up]
		if a.key != b.key || a.keyLine != b.keyLine || a.keyOff != b.keyOff {
			t.Fatalf("key: fast %q line %d at %d, full %q line %d at %d", a.key, a.keyLine, a.keyOff, b.key, b.keyLine, b.keyOff)
		}
		av, bv := a.val, b.val
		if av.kind != bv.kind {
			t.Fatalf("%q: kind fast %d, full %d", a.key, av.kind, bv.kind)
		}
		switch av.kind {
		case valMap:
			comparePairs(t, fast, av.m, full, bv.m)
		case valScalar:
			if av.text != bv.text || av.style != bv.style || av.off != bv.off || (av.style == stylePlain && av.end != bv.end) || (av.tag == tagBool) != (bv.tag == tagBool) ||
				(av.tag == tagInt && bv.tag != tagInt) {
				t.Fatalf("%q: fast %+v, full %+v", a.key, av, bv)
			}
		}
		fp, up = a.next, b.next
	}
	if fp >= 0 || up >= 0 {
		t.Fatalf("mappings differ in length")
	}
}

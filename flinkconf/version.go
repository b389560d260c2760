package flinkconf

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a Flink release line, such as 1.18 or 2.0. Patch releases do
// not change what the webhook's rules depend on.
type Version struct{ Major, Minor int }

// Some release lines the rules turn on.
var (
	V1_15 = Version{1, 15}
	V1_16 = Version{1, 16}
	V1_17 = Version{1, 17}
	V1_18 = Version{1, 18}
	V1_19 = Version{1, 19}
	V1_20 = Version{1, 20}
	V2_0  = Version{2, 0}
	V2_1  = Version{2, 1}
)

// Supported is every Flink release line the webhook's rules are written
// for; a source whose version is unknown may be any of them.
var Supported = Range{Min: V1_15, Max: V2_1}

// Less reports whether v is an older release line than o.
func (v Version) Less(o Version) bool {
	return v.Major < o.Major || v.Major == o.Major && v.Minor < o.Minor
}

// AtLeast reports whether v is o or newer.
func (v Version) AtLeast(o Version) bool { return !v.Less(o) }

func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// Range is the release lines a configuration may be read by, both ends
// included.
type Range struct{ Min, Max Version }

// Exactly is the range of one release line.
func Exactly(v Version) Range { return Range{Min: v, Max: v} }

// Known reports whether the range is one release line.
func (r Range) Known() bool { return r.Min == r.Max }

// AllAtLeast reports whether every release line of r is v or newer.
func (r Range) AllAtLeast(v Version) bool { return r.Min.AtLeast(v) }

// AnyAtLeast reports whether some release line of r is v or newer.
func (r Range) AnyAtLeast(v Version) bool { return r.Max.AtLeast(v) }

// AnyBefore reports whether some release line of r is older than v.
func (r Range) AnyBefore(v Version) bool { return r.Min.Less(v) }

// Intersect returns the release lines in both r and o, and false when they
// share none.
func (r Range) Intersect(o Range) (Range, bool) {
	out := r
	if out.Min.Less(o.Min) {
		out.Min = o.Min
	}
	if o.Max.Less(out.Max) {
		out.Max = o.Max
	}
	return out, !out.Max.Less(out.Min)
}

func (r Range) String() string {
	if r.Known() {
		return r.Min.String()
	}
	return r.Min.String() + "-" + r.Max.String()
}

// ParseVersion reads a release line from text that starts with one: "1.18",
// "1.18.1", "2.0-preview1". It is false for anything else.
func ParseVersion(s string) (Version, bool) {
	v, _, ok := parseRelease(s)
	return v, ok
}

// parseRelease is ParseVersion that also reads the patch release where s
// names one ("1.15.2", "1.15.2-java11"): -1 where it does not ("1.15",
// "1.15-java11", "1.15.x").
func parseRelease(s string) (v Version, patch int, ok bool) {
	majorText, rest, ok := strings.Cut(s, ".")
	if !ok {
		return Version{}, -1, false
	}
	end := leadingDigits(rest)
	major, err1 := strconv.Atoi(majorText)
	minor, err2 := strconv.Atoi(rest[:end])
	if err1 != nil || err2 != nil || end == 0 || end > 3 || len(majorText) > 2 {
		return Version{}, -1, false
	}
	rest = rest[end:]
	if rest != "" && rest[0] != '.' && rest[0] != '-' && rest[0] != '_' {
		return Version{}, -1, false
	}
	patch = -1
	if p, dotted := strings.CutPrefix(rest, "."); dotted {
		if n := leadingDigits(p); n > 0 && n <= 3 && (n == len(p) || p[n] == '-' || p[n] == '_') {
			patch, _ = strconv.Atoi(p[:n])
		}
	}
	return Version{Major: major, Minor: minor}, patch, true
}

// leadingDigits is how many ASCII digits s starts with.
func leadingDigits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

// OperatorVersion reads a FlinkDeployment's spec.flinkVersion ("v1_18").
func OperatorVersion(s string) (Version, bool) {
	rest, ok := strings.CutPrefix(s, "v")
	if !ok {
		return Version{}, false
	}
	major, minor, ok := strings.Cut(rest, "_")
	if !ok {
		return Version{}, false
	}
	return ParseVersion(major + "." + minor)
}

// ImageVersion reads the Flink release line from the tag of an image of the
// official Flink repositories ("flink:1.18.1-scala_2.12-java11",
// "apache/flink:2.1", "registry.example/mirror/flink:1.20-java17"). Other
// images, and tags that do not start with a version ("latest", a digest
// alone), say nothing: the version is then unknown.
func ImageVersion(image string) (Version, bool) {
	tag, ok := officialTag(image)
	if !ok {
		return Version{}, false
	}
	return ParseVersion(tag)
}

// officialTag is the tag of an image of the official Flink repositories,
// false for other images and for none.
func officialTag(image string) (string, bool) {
	if i := strings.IndexByte(image, '@'); i >= 0 {
		image = image[:i]
	}
	slash := strings.LastIndexByte(image, '/')
	colon := strings.LastIndexByte(image, ':')
	if colon < slash || colon < 0 || image[slash+1:colon] != "flink" {
		return "", false
	}
	return image[colon+1:], true
}

// ImagePre1153 reports whether image is an official Flink image whose tag
// names the patch release 1.15.0, 1.15.1 or 1.15.2 ("flink:1.15.2-java11").
// Their bin/jobmanager.sh predates FLINK-28733 (1.15.3): it takes its
// first two arguments as the host name and web UI port, whatever they
// are, and hands nothing else to Flink (ParseArgsPre1153). A tag of the
// line alone ("flink:1.15") is its latest patch release.
func ImagePre1153(image string) bool {
	tag, ok := officialTag(image)
	if !ok {
		return false
	}
	v, patch, ok := parseRelease(tag)
	return ok && v == V1_15 && patch >= 0 && patch <= 2
}

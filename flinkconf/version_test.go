package flinkconf

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestImageVersion(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		image string
		want  Version
		ok    bool
	}{
		"the official image with a patch release and scala": {"flink:1.18.1-scala_2.12-java11", V1_18, true},
		"apache/flink with a release line":                  {"apache/flink:2.1", V2_1, true},
		"a mirror of the official image":                    {"registry.example:5000/mirror/flink:1.20-java17", V1_20, true},
		"a digest after the tag":                            {"flink:1.19.2@sha256:abc", V1_19, true},
		"a preview release":                                 {"flink:2.0-preview1", V2_0, true},
		"latest says nothing":                               {"flink:latest", Version{}, false},
		"no tag says nothing":                               {"flink", Version{}, false},
		"a digest alone says nothing":                       {"flink@sha256:abc", Version{}, false},
		"a custom image says nothing, whatever its tag":     {"registry.example/jobs/wordcount:1.18", Version{}, false},
		"a registry port is not a tag":                      {"registry:5000/flink", Version{}, false},
		"a tag that only starts like a version":             {"flink:1.18x", Version{}, false},
	}
	for name, tc := range cases {
		got, ok := ImageVersion(tc.image)
		assert.Equal(t, tc.ok, ok, name)
		assert.Equal(t, tc.want, got, name)
	}
}

func TestOperatorVersion(t *testing.T) {
	t.Parallel()
	v, ok := OperatorVersion("v1_18")
	assert.True(t, ok)
	assert.Equal(t, V1_18, v)
	v, ok = OperatorVersion("v2_0")
	assert.True(t, ok)
	assert.Equal(t, V2_0, v)
	for _, bad := range []string{"", "1_18", "v1", "v1.18", "vx_1"} {
		_, ok := OperatorVersion(bad)
		assert.False(t, ok, bad)
	}
}

func TestRange(t *testing.T) {
	t.Parallel()
	assert.True(t, Supported.AnyBefore(V1_17), "1.15 and 1.16 are supported")
	assert.True(t, Supported.AnyAtLeast(V2_0))
	assert.False(t, Supported.Known())
	r, ok := Supported.Intersect(Range{Min: V1_19, Max: Version{9, 9}})
	assert.True(t, ok)
	assert.Equal(t, Range{Min: V1_19, Max: V2_1}, r)
	assert.Equal(t, "1.19-2.1", r.String())
	_, ok = Exactly(V1_15).Intersect(Range{Min: V1_19, Max: V2_1})
	assert.False(t, ok)
	assert.Equal(t, "1.18", Exactly(V1_18).String())
}

func TestImagePre1153(t *testing.T) {
	t.Parallel()
	for image, want := range map[string]bool{
		"flink:1.15.0":                      true,
		"flink:1.15.2-scala_2.12-java11":    true,
		"apache/flink:1.15.1-java8":         true,
		"mirror.example/flink:1.15.2@sha:1": true,
		"flink:1.15.3":                      false,
		"flink:1.15.4-java11":               false,
		"flink:1.15.10":                     false,
		"flink:1.15":                        false, // the line's latest patch release
		"flink:1.15-java11":                 false,
		"flink:1.16.0":                      false,
		"flink:1.15.2x":                     false,
		"registry.example/jobs/app:1.15.2":  false, // not the official image: unknown
	} {
		assert.Equal(t, want, ImagePre1153(image), image)
	}
}

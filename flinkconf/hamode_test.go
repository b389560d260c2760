package flinkconf

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHAIn(t *testing.T) {
	t.Parallel()
	type line struct {
		versions Range
		mode     HAMode
		key      string
		fails    bool
	}
	cases := map[string]struct {
		conf     string
		versions Range
		want     []line
	}{
		"high-availability.type is read from 1.17 on only": {
			conf: "high-availability.type: kubernetes\n", versions: Supported,
			want: []line{{Exactly(V1_15), HANone, "", false}, {Exactly(V1_16), HANone, "", false}, {Range{V1_17, V2_1}, HAKubernetes, "high-availability.type", false}},
		},
		"the short value under the old key fails on 1.15 and works from 1.16": {
			conf: "high-availability: kubernetes\n", versions: Range{V1_15, V1_20},
			want: []line{{Exactly(V1_15), HAFactory, "high-availability", true}, {Exactly(V1_16), HAKubernetes, "high-availability", false},
				{Range{V1_17, V1_20}, HAKubernetes, "high-availability", false}},
		},
		"the factory class is Kubernetes HA in every version": {
			conf: "high-availability: " + KubernetesHAFactory + "\n", versions: Range{V1_15, V1_16},
			want: []line{{Exactly(V1_15), HAKubernetes, "high-availability", false}, {Exactly(V1_16), HAKubernetes, "high-availability", false}},
		},
		"from 1.17 the new key wins over the old": {
			conf: "high-availability: zookeeper\nhigh-availability.type: kubernetes\n", versions: Range{V1_16, V1_17},
			want: []line{{Exactly(V1_16), HAZooKeeper, "high-availability", false}, {Exactly(V1_17), HAKubernetes, "high-availability.type", false}},
		},
		"recovery.mode is read by every version": {
			conf: "recovery.mode: zookeeper\n", versions: Exactly(V2_0),
			want: []line{{Exactly(V2_0), HAZooKeeper, "recovery.mode", false}},
		},
	}
	for name, tc := range cases {
		src, err := ParseLegacy([]byte(tc.conf))
		require.NoError(t, err)
		got := (&Config{Layers: []Layer{{Name: "conf", Source: src}}}).HAIn(tc.versions)
		var lines []line
		for _, l := range got.Lines {
			lines = append(lines, line{l.Versions, l.Mode, l.At.Key, l.Fails != ""})
		}
		assert.Equal(t, tc.want, lines, name)
	}
}

func TestHASpelling(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		versions   Range
		nested     bool
		key, value string
		ok         bool
	}{
		"1.17 and newer read high-availability.type":        {Range{V1_17, V2_1}, true, "high-availability.type", "kubernetes", true},
		"1.16 reads the short value under the old key":      {Exactly(V1_16), false, "high-availability", "kubernetes", true},
		"1.15 reads only the factory class":                 {Exactly(V1_15), false, "high-availability", KubernetesHAFactory, true},
		"a legacy file of unknown version: the factory":     {Range{V1_15, V1_20}, false, "high-availability", KubernetesHAFactory, true},
		"nested YAML read by 1.15 too: no spelling for all": {Supported, true, "high-availability.type", "kubernetes", false},
	}
	for name, tc := range cases {
		key, value, why, ok := HASpelling(tc.versions, tc.nested)
		assert.Equal(t, []any{tc.key, tc.value, tc.ok}, []any{key, value, ok}, name)
		assert.Equal(t, tc.versions.AllAtLeast(HATypeFrom), why == "", "%s: a spelling other than the current one says why", name)
	}
}

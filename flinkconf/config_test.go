package flinkconf

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mustLegacy(t *testing.T, src string) *Legacy {
	t.Helper()
	l, err := ParseLegacy([]byte(src))
	require.NoError(t, err)
	return l
}

func mustStandard(t *testing.T, src string) *Standard {
	t.Helper()
	s, err := ParseStandard([]byte(src))
	require.NoError(t, err)
	return s
}

func TestConfigLayersAndSpellings(t *testing.T) {
	t.Parallel()
	c := &Config{Layers: []Layer{
		{Name: "data[flink-conf.yaml]", Source: mustLegacy(t, "high-availability: kubernetes\nrecovery.zookeeper.storageDir: s3://old\nkubernetes.cluster-id: a\n")},
		{Name: "env FLINK_PROPERTIES", Source: mustLegacy(t, "kubernetes.cluster-id: b\n")},
		{Name: "args", Source: ParseArgs([]string{"standalone-job", "-Dhigh-availability.storageDir=s3://new"}, Supported)},
	}}

	s, ok := c.Lookup(ClusterID)
	require.True(t, ok)
	assert.Equal(t, Setting{Entry: Entry{Key: "kubernetes.cluster-id", Value: "b", Line: 1, Arg: -1}, Layer: "env FLINK_PROPERTIES"}, s)
	assert.Equal(t, "env FLINK_PROPERTIES line 1", s.String())

	s, ok = c.Lookup(HAStorageDir)
	require.True(t, ok)
	assert.Equal(t, Setting{Entry: Entry{Key: "high-availability.storageDir", Value: "s3://new", Arg: 1}, Layer: "args"}, s)
	assert.Equal(t, "args argument 1", s.String())

	mode, at, ok := c.HA()
	assert.True(t, ok)
	assert.Equal(t, HAKubernetes, mode)
	assert.Equal(t, "high-availability", at.Key, "the deprecated spelling is found when the current one is absent")

	_, ok = c.Lookup(HAClusterID)
	assert.False(t, ok)
}

func TestConflicts(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		layers []Layer
		want   []Conflict
	}{
		"a complete Kubernetes HA configuration has none": {
			layers: []Layer{{Name: "f", Source: mustLegacy(t, "high-availability.type: kubernetes\nhigh-availability.storageDir: s3://b/ha\nkubernetes.cluster-id: c\n")}},
		},
		"no configuration at all has none": {
			layers: []Layer{{Name: "f", Source: mustLegacy(t, "")}},
		},
		"the same value in two layers is no conflict": {
			layers: []Layer{
				{Name: "f", Source: mustLegacy(t, "kubernetes.cluster-id: c\n")},
				{Name: "env", Source: mustLegacy(t, "kubernetes.cluster-id: c\n")},
			},
		},
		"two spellings of Kubernetes HA agree": {
			layers: []Layer{{Name: "f", Source: mustLegacy(t, "high-availability.type: KUBERNETES\nhigh-availability: "+KubernetesHAFactory+"\n")}},
		},
		"ZooKeeper HA": {
			layers: []Layer{{Name: "f", Source: mustLegacy(t, "high-availability.type: zookeeper\n")}},
			want: []Conflict{{
				Kind:     ConflictZooKeeper,
				Settings: []Setting{{Entry: Entry{Key: "high-availability.type", Value: "zookeeper", Line: 1, Arg: -1}, Layer: "f"}},
				Message:  `high-availability.type is "zookeeper" (ZooKeeper HA) at f line 1; to use Kubernetes HA set it to "kubernetes" and migrate or drop the ZooKeeper state`,
			}},
		},
		"two spellings disagree": {
			layers: []Layer{{Name: "f", Source: mustLegacy(t, "high-availability.storageDir: s3://a\nhigh-availability.zookeeper.storageDir: s3://b\n")}},
			want: []Conflict{{
				Kind: ConflictSpellings,
				Settings: []Setting{
					{Entry: Entry{Key: "high-availability.zookeeper.storageDir", Value: "s3://b", Line: 2, Arg: -1}, Layer: "f"},
					{Entry: Entry{Key: "high-availability.storageDir", Value: "s3://a", Line: 1, Arg: -1}, Layer: "f"},
				},
				Message: `high-availability.zookeeper.storageDir is "s3://b" at f line 2 but high-availability.storageDir is "s3://a" at f line 1; Flink uses high-availability.storageDir: remove high-availability.zookeeper.storageDir`,
			}},
		},
		"two layers disagree": {
			layers: []Layer{
				{Name: "data[flink-conf.yaml]", Source: mustLegacy(t, "kubernetes.cluster-id: a\n")},
				{Name: "args", Source: ParseArgs([]string{"-D", "kubernetes.cluster-id=b"}, Supported)},
			},
			want: []Conflict{{
				Kind: ConflictLayers,
				Settings: []Setting{
					{Entry: Entry{Key: "kubernetes.cluster-id", Value: "a", Line: 1, Arg: -1}, Layer: "data[flink-conf.yaml]"},
					{Entry: Entry{Key: "kubernetes.cluster-id", Value: "b", Arg: 1}, Layer: "args"},
				},
				Message: `kubernetes.cluster-id is "a" at data[flink-conf.yaml] line 1 but "b" at args argument 1, which wins; set it in one place`,
			}},
		},
		"a scalar beside its own sub-keys in config.yaml": {
			layers: []Layer{{Name: "data[config.yaml]", Source: mustStandard(t, "high-availability: kubernetes\nhigh-availability.storageDir: s3://b\n")}},
			want: []Conflict{{
				Kind: ConflictNested,
				Settings: []Setting{
					{Entry: Entry{Key: "high-availability", Value: "kubernetes", Line: 1, Arg: -1}, Layer: "data[config.yaml]"},
					{Entry: Entry{Key: "high-availability.storageDir", Value: "s3://b", Line: 2, Arg: -1}, Layer: "data[config.yaml]"},
				},
				Message: "high-availability at data[config.yaml] line 1 is a value but also the prefix of high-availability.storageDir at data[config.yaml] line 2, which nested YAML cannot hold; rename high-availability to high-availability.type",
			}},
		},
		"the same pair in legacy flink-conf.yaml is fine": {
			layers: []Layer{{Name: "f", Source: mustLegacy(t, "high-availability: kubernetes\nhigh-availability.storageDir: s3://b\n")}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := &Config{Layers: tc.layers}
			assert.Equal(t, tc.want, c.Conflicts())
		})
	}
}

func TestParseHAMode(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]HAMode{
		"":                                HANone,
		"NONE":                            HANone,
		"standalone":                      HANone,
		"zookeeper":                       HAZooKeeper,
		"ZooKeeper":                       HAZooKeeper,
		"kubernetes":                      HAKubernetes,
		"KUBERNETES":                      HAKubernetes,
		" kubernetes":                     HAKubernetes,
		KubernetesHAFactory:               HAKubernetes,
		"com.example.MyHaServicesFactory": HAFactory,
	} {
		assert.Equal(t, want, ParseHAMode(in), in)
	}
}

func TestCheckClusterID(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		id   string
		want error
	}{
		"valid":                 {"my-cluster-1", nil},
		"one letter":            {"a", nil},
		"exactly 45 characters": {"a2345678901234567890123456789012345678901234x", nil},
		"empty":                 {"", errors.New("is empty; set it to a name unique in the namespace, such as the JobManager Deployment's name")},
		"46 characters":         {"a23456789012345678901234567890123456789012345x", errors.New(`"a23456789012345678901234567890123456789012345x" is 46 characters; Flink accepts at most 45`)},
		"upper case":            {"MyCluster", errors.New(`"MyCluster" is not a valid cluster-id: use lower-case letters, digits and '-', starting with a letter and ending with a letter or digit`)},
		"starts with a digit":   {"1cluster", errors.New(`"1cluster" is not a valid cluster-id: use lower-case letters, digits and '-', starting with a letter and ending with a letter or digit`)},
		"ends with a dash":      {"cluster-", errors.New(`"cluster-" is not a valid cluster-id: use lower-case letters, digits and '-', starting with a letter and ending with a letter or digit`)},
		"dots":                  {"a.b", errors.New(`"a.b" is not a valid cluster-id: use lower-case letters, digits and '-', starting with a letter and ending with a letter or digit`)},
	} {
		assert.Equal(t, tc.want, CheckClusterID(tc.id), name)
	}
}

func TestCheckStorageDir(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		dir     string
		warning string
		err     string
	}{
		"s3":                              {dir: "s3://bucket/flink/ha"},
		"hdfs with a default namenode":    {dir: "hdfs:///flink/ha"},
		"abfss":                           {dir: "abfss://container@account.dfs.core.windows.net/ha"},
		"upper-case scheme":               {dir: "S3://bucket/ha"},
		"empty":                           {dir: "", err: "is empty; set it to a URI that every JobManager can reach, such as s3://<bucket>/flink/ha"},
		"a relative path":                 {dir: "flink/ha", err: `"flink/ha" has no scheme, so Flink would write to each JobManager's local disk; use a URI like s3://<bucket>/flink/ha`},
		"an absolute path without scheme": {dir: "/flink/ha", err: `"/flink/ha" has no scheme, so Flink would write to each JobManager's local disk; use a URI like s3://<bucket>/flink/ha`},
		"s3 without a bucket":             {dir: "s3:///ha", err: `"s3:///ha" names no bucket or container; use s3://<bucket>/path`},
		"opaque":                          {dir: "s3:bucket/ha", err: `"s3:bucket/ha" names no bucket or container; use s3://<bucket>/path`},
		"hdfs opaque":                     {dir: "hdfs:flink", err: `"hdfs:flink" is not an absolute URI; use hdfs://<authority>/path or hdfs:///absolute/path`},
		"not a URI":                       {dir: "s3://bucket/%zz", err: `"s3://bucket/%zz" is not a URI (invalid URL escape "%zz"); use one like s3://<bucket>/flink/ha`},
		"file warns":                      {dir: "file:///mnt/shared/ha", warning: `storageDir "file:///mnt/shared/ha" is local: HA works only if every JobManager mounts it from one shared volume`},
		"file with a host":                {dir: "file://mnt/ha", err: `"file://mnt/ha" puts the path in the host part; write file:///absolute/path`},
		"unknown scheme warns":            {dir: "cosn://bucket/ha", warning: `storageDir scheme "cosn" is not one Flink ships a filesystem plugin for; make sure the image has one`},
	} {
		warning, err := CheckStorageDir(tc.dir)
		assert.Equal(t, tc.warning, warning, name)
		if tc.err == "" {
			assert.NoError(t, err, name)
		} else {
			assert.EqualError(t, err, tc.err, name)
		}
	}
}

package flinkconf

import (
	"testing"
)

// plainCases are strings edits write, and near misses of the rule.
var plainCases = []string{
	"kubernetes", "org.apache.flink.kubernetes.highavailability.KubernetesHaServicesFactory",
	"high-availability.storageDir", "kubernetes.cluster-id", "s3://bucket/flink/ha", "file:///flink/ha",
	"/opt/flink/ha", "my_cluster-1", "a:b", "a:", "a: b", "y", "Y", "yes", "Yes", "YES", "yEs", "n", "no", "NO",
	"on", "On", "ON", "off", "Off", "OFF", "true", "True", "TRUE", "tRue", "false", "null", "Null", "NULL", "~",
	".inf", "-a", "a-", "a.", "1", "1.5", "30s", "0x1F", "e5", "E5", "a#b", "a #b", "a b", "", "é", "a\tb",
	"2001-12-14", "a/b/", "/", "//", ":", "a::", "x:1", "<<", "a,b", "a[0]", "a{b}", "a'b", `a"b`, "a%b", "a@b",
	"!a", "&a", "*a", "?a", "|a", ">a", "%a", "@a", "`a", "...", "---", "a---", "NaN", "nan", ".nan", "Infinity",
	"infinity", "inf",
}

// TestPlainSafeAgreesWithYAML: what plainSafe lets through, yaml.v3 writes
// plain and unchanged.
func TestPlainSafeAgreesWithYAML(t *testing.T) {
	t.Parallel()
	through := 0
	for _, s := range plainCases {
		if !plainSafe(s) {
			continue
		}
		through++
		if got := encodeScalar(s, 0); got != s {
			t.Errorf("plainSafe(%q) but yaml.v3 writes %s", s, got)
		}
	}
	if through < 10 {
		t.Errorf("only %d cases taken plain: the rule lets almost nothing through", through)
	}
}

// FuzzPlainSafe: for any string, plainSafe says true only when yaml.v3
// writes it plain and unchanged.
func FuzzPlainSafe(f *testing.F) {
	for _, s := range plainCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if plainSafe(s) {
			if got := encodeScalar(s, 0); got != s {
				t.Fatalf("plainSafe(%q) but yaml.v3 writes %s", s, got)
			}
		}
	})
}

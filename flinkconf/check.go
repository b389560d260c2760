package flinkconf

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// MaxClusterIDLength is the longest kubernetes.cluster-id Flink accepts: it
// prefixes the names of the objects Flink creates, which Kubernetes limits.
const MaxClusterIDLength = 45

var clusterIDPattern = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)

// CheckClusterID says what is wrong with a kubernetes.cluster-id, or nil.
func CheckClusterID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("is empty; set it to a name unique in the namespace, such as the JobManager Deployment's name")
	case len(id) > MaxClusterIDLength:
		return fmt.Errorf("%q is %d characters; Flink accepts at most %d", id, len(id), MaxClusterIDLength)
	case !clusterIDPattern.MatchString(id):
		return fmt.Errorf("%q is not a valid cluster-id: use lower-case letters, digits and '-', starting with a letter and ending with a letter or digit", id)
	}
	return nil
}

// KnownStorageSchemes are the filesystem schemes Flink HA storage is known
// to run on with the matching filesystem plugin.
var KnownStorageSchemes = []string{"s3", "s3a", "s3p", "hdfs", "gs", "abfs", "abfss", "wasb", "wasbs", "oss", "file"}

// schemesWithBucket name a bucket or container in the URI's authority.
var schemesWithBucket = map[string]bool{"s3": true, "s3a": true, "s3p": true, "gs": true, "abfs": true, "abfss": true, "wasb": true, "wasbs": true, "oss": true}

// CheckStorageDir says what is wrong with a high-availability.storageDir
// (err), or what is risky about it (warning).
func CheckStorageDir(dir string) (warning string, err error) {
	if dir == "" {
		return "", fmt.Errorf("is empty; set it to a URI that every JobManager can reach, such as s3://<bucket>/flink/ha")
	}
	u, perr := url.Parse(dir)
	if perr != nil {
		return "", fmt.Errorf("%q is not a URI (%v); use one like s3://<bucket>/flink/ha", dir, urlReason(perr))
	}
	if u.Scheme == "" {
		return "", fmt.Errorf("%q has no scheme, so Flink would write to each JobManager's local disk; use a URI like s3://<bucket>/flink/ha", dir)
	}
	scheme := strings.ToLower(u.Scheme)
	if schemesWithBucket[scheme] && u.Host == "" {
		return "", fmt.Errorf("%q names no bucket or container; use %s://<bucket>/path", dir, scheme)
	}
	if u.Opaque != "" {
		return "", fmt.Errorf("%q is not an absolute URI; use %s://<authority>/path or %s:///absolute/path", dir, scheme, scheme)
	}
	if scheme == "file" {
		if u.Host != "" && u.Host != "localhost" {
			return "", fmt.Errorf("%q puts the path in the host part; write file:///absolute/path", dir)
		}
		return fmt.Sprintf("storageDir %q is local: HA works only if every JobManager mounts it from one shared volume", dir), nil
	}
	for _, k := range KnownStorageSchemes {
		if scheme == k {
			return "", nil
		}
	}
	return fmt.Sprintf("storageDir scheme %q is not one Flink ships a filesystem plugin for; make sure the image has one", scheme), nil
}

func urlReason(err error) string {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err.Error()
	}
	return err.Error()
}

package validate

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/flink-ha-webhook/flink-ha-webhook/cluster"
	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
)

// verdict collects what the rules say about one object: every field error
// once, and warnings.
type verdict struct {
	errs     field.ErrorList
	warnings []string
}

func (v *verdict) err(e *field.Error) {
	for _, have := range v.errs {
		if have.Type == e.Type && have.Field == e.Field && have.Detail == e.Detail {
			return // several readings of one text find the same problem
		}
	}
	v.errs = append(v.errs, e)
}

func (v *verdict) warn(format string, args ...any) {
	w := fmt.Sprintf(format, args...)
	for _, have := range v.warnings {
		if have == w {
			return
		}
	}
	v.warnings = append(v.warnings, w)
}

// optOut reports a forbidden opt-out once.
func (v *verdict) optOut(o *cluster.Object) {
	if o.OptOut != nil {
		v.err(field.Forbidden(field.NewPath("metadata", "annotations").Key(policy.AnnotationHA), o.OptOut.Error()))
	}
}

// checkHA reports what stops a configuration from running with Kubernetes
// HA when its decision requires it (or the configuration turns it on), in
// every release line that may read it.
func (v *verdict) checkHA(o *cluster.Object, c *cluster.Configuration, p *policy.Policy) {
	v.conflicts(c)
	newest := c.HA.Newest()
	known := o.VersionFrom != ""
	for _, l := range c.HA.Lines {
		if l.Fails == "" {
			continue
		}
		if known || len(c.HA.Lines) == 1 {
			v.err(field.Invalid(c.At(l.At), l.At.Value, l.Fails))
		} else {
			v.warn("%s: %s", c.At(l.At), l.Fails)
		}
	}
	if known && newest.Versions.Max.Less(flinkconf.HATypeFrom) {
		// The newer spelling, written for a release line that ignores it.
		if s, ok := c.Config.Get(flinkconf.HAType.Key); ok && newest.Mode != flinkconf.HAKubernetes {
			v.err(field.Invalid(c.At(s), s.Value, fmt.Sprintf("Flink %s (%s) reads no %s, so HA is off: write %s",
				c.Versions, o.VersionFrom, s.Key, haSetting(c))))
		}
	}

	if c.Decision == policy.Skip && !c.HAOn() {
		return
	}
	switch newest.Mode {
	case flinkconf.HAKubernetes:
		if newest.Fails != "" {
			return
		}
	case flinkconf.HAZooKeeper:
		if c.Decision == policy.MakeHA {
			v.err(field.Invalid(c.At(newest.At), newest.At.Value, zooKeeperFix(p, c, newest.At.Key)))
		}
		return
	case flinkconf.HAFactory:
		if newest.Fails != "" {
			return // reported above
		}
		v.warn("%s: %s is a custom HA factory; the webhook does not check it", c.At(newest.At), newest.At.Value)
		return
	default:
		if c.Decision != policy.MakeHA {
			return
		}
		key, _, _, _ := flinkconf.HASpelling(c.Versions, c.Nested)
		v.err(field.Required(c.Path.Key(key), "this cluster's policy requires HA: set "+haSetting(c)))
	}

	clusterID := o.ClusterID
	var badID *field.Error
	idMissing := false
	if clusterID == "" {
		if s, ok := c.Config.Lookup(flinkconf.ClusterID); !ok {
			idMissing = true
		} else if err := flinkconf.CheckClusterID(s.Value); err != nil {
			badID = field.Invalid(c.At(s), s.Value, err.Error())
		} else {
			clusterID = s.Value
		}
	}
	dir, hasDir := c.Config.Lookup(flinkconf.HAStorageDir)
	_, bare := c.Config.Get(haBare)
	switch {
	case hasDir:
		v.checkStorageDir(c, dir)
	case p.StorageDir != "" && (clusterID == "" || c.Nested && bare):
		// The policy fills the storageDir in once the cluster-id is there,
		// or once a value at high-availability is renamed: those are what
		// to fix.
	default:
		v.err(field.Required(c.Path.Key(flinkconf.HAStorageDir.Key),
			"Kubernetes HA keeps job graphs and checkpoint pointers there: set high-availability.storageDir to a URI "+
				"every JobManager can reach, such as s3://<bucket>/flink-ha/<cluster-id>"))
	}
	switch {
	case badID != nil:
		v.err(badID)
	case idMissing && p.StorageDir != "" && !hasDir:
		v.err(field.Required(c.Path.Key(flinkconf.ClusterID.Key),
			"the one thing to add: Kubernetes HA names its ConfigMaps after it and the policy's storageDir follows from it; "+
				"set kubernetes.cluster-id to a name unique in the namespace, such as the JobManager Deployment's"))
	case idMissing:
		v.err(field.Required(c.Path.Key(flinkconf.ClusterID.Key),
			"Kubernetes HA names its ConfigMaps after it: set kubernetes.cluster-id to a name unique in the namespace, "+
				"such as the JobManager Deployment's"))
	}
}

// checkStorageDir judges a storageDir; one without a scheme is resolved
// against fs.default-scheme, as Flink resolves it.
func (v *verdict) checkStorageDir(c *cluster.Configuration, s flinkconf.Setting) {
	dir := s.Value
	if u, err := url.Parse(dir); err == nil && u.Scheme == "" {
		if d, ok := c.Config.Get(defaultScheme); ok && d.Value != "" {
			dir = strings.TrimSuffix(d.Value, "/") + "/" + strings.TrimPrefix(dir, "/")
		}
	}
	warning, err := flinkconf.CheckStorageDir(dir)
	switch {
	case err != nil:
		detail := err.Error()
		if s.Line > 0 || s.Arg >= 0 {
			detail = s.Where() + ": " + detail // the field path does not say which line or argument
		}
		v.err(field.Invalid(c.At(s), s.Value, detail))
	case warning != "":
		v.warn("%s: %s", c.At(s), warning)
	}
}

// defaultScheme is the scheme Flink gives paths that name none.
const defaultScheme = "fs.default-scheme"

// conflicts reports what makes a configuration ambiguous for HA: spellings
// or layers of an HA key that disagree, and keys that nested YAML cannot
// hold where some release line reads it nested. ZooKeeper is judged by
// checkHA; other keys disagreeing between layers is no HA problem.
func (v *verdict) conflicts(c *cluster.Configuration) {
	for _, k := range c.Config.Conflicts() {
		switch k.Kind {
		case flinkconf.ConflictZooKeeper:
			continue
		case flinkconf.ConflictLayers, flinkconf.ConflictSpellings:
			if !haKey(k.Settings[0].Key) {
				continue
			}
		}
		s := k.Settings[0]
		msg := k.Message
		if k.Kind == flinkconf.ConflictNested {
			other := k.Settings[1].Key
			if k.Settings[1].Line > 0 {
				other += " (" + k.Settings[1].Where() + ")"
			}
			msg = fmt.Sprintf("%s is a value and the prefix of %s, which nested YAML cannot hold: rename %s to %s",
				s.Key, other, s.Key, renamed(s.Key))
		}
		v.err(field.Invalid(c.At(s), s.Value, msg))
	}
	if !c.Nested {
		return
	}
	if s, ok := c.Config.Get(haBare); ok && c.HAOn() && s.Key == haBare && !hasChildren(c.Config, haBare) {
		// Nothing prefixes it yet, but HA needs high-availability.storageDir
		// (and the operator adds high-availability.cluster-id) beside it.
		where := "nested YAML"
		if l, ok := layerOf(c.Config, s); ok && l.Source.Format() == flinkconf.FormatProperties {
			where = fmt.Sprintf("the nested config.yaml that Flink %s images write FLINK_PROPERTIES into", c.Versions)
		}
		v.err(field.Invalid(c.At(s), s.Value, fmt.Sprintf("HA needs high-availability.storageDir and high-availability.cluster-id, "+
			"which %s cannot hold beside a value at %s: rename it to %s", where, haBare, flinkconf.HAType.Key)))
	}
	for _, l := range c.Config.Layers {
		if l.Source.Format() != flinkconf.FormatProperties {
			continue
		}
		for _, pair := range flinkconf.PrefixOverlaps(l.Source) {
			s := flinkconf.Setting{Entry: pair[0], Layer: l.Name}
			v.err(field.Invalid(c.At(s), s.Value, fmt.Sprintf(
				"Flink %s images write FLINK_PROPERTIES into nested config.yaml, where %s cannot be a value and the parent of %s (line %d): rename %s to %s",
				c.Versions, pair[0].Key, pair[1].Key, pair[1].Line, pair[0].Key, renamed(pair[0].Key))))
		}
	}
}

// haBare is the old key of the HA mode, which is also the prefix of every
// other HA key.
const haBare = "high-availability"

// hasChildren reports whether some layer sets a key under prefix.
func hasChildren(cfg *flinkconf.Config, prefix string) bool {
	for _, l := range cfg.Layers {
		for _, e := range l.Source.Entries() {
			if strings.HasPrefix(e.Key, prefix+".") {
				return true
			}
		}
	}
	return false
}

// layerOf is the layer a setting comes from.
func layerOf(cfg *flinkconf.Config, s flinkconf.Setting) (flinkconf.Layer, bool) {
	for _, l := range cfg.Layers {
		if l.Name == s.Layer {
			return l, true
		}
	}
	return flinkconf.Layer{}, false
}

// renamed is the key a value that is also a prefix has today.
func renamed(key string) string {
	switch key {
	case "high-availability", "state.backend":
		return key + ".type"
	}
	return key + ".<name>"
}

// checkReplicas denies standby JobManagers without HA: they cannot take
// over without leader election.
func (v *verdict) checkReplicas(c *cluster.Configuration) {
	s, ok := c.Config.Lookup(flinkconf.JobManagerReplicas)
	if !ok {
		return
	}
	n, err := strconv.Atoi(s.Value)
	if err != nil || n <= 1 || c.HA.Newest().Mode != flinkconf.HANone {
		return
	}
	v.err(field.Invalid(c.At(s), n, "more than one JobManager needs HA for leader election: set "+haSetting(c)+" or use 1 replica"))
}

func haKey(key string) bool {
	for _, o := range []flinkconf.Option{flinkconf.HAType, flinkconf.HAStorageDir, flinkconf.HAClusterID, flinkconf.ClusterID} {
		for _, k := range o.Keys() {
			if k == key {
				return true
			}
		}
	}
	return false
}

// haSetting is the setting that turns Kubernetes HA on for the release
// lines that read c: "high-availability.type: kubernetes" from 1.17.
func haSetting(c *cluster.Configuration) string {
	key, value, _, _ := flinkconf.HASpelling(c.Versions, c.Nested)
	return key + ": " + value
}

// zooKeeperFix says how to switch ZooKeeper HA, set at key, to Kubernetes:
// in the key the user wrote when it is the current one, else in the
// spelling the configuration's release lines read.
func zooKeeperFix(p *policy.Policy, c *cluster.Configuration, key string) string {
	set := haSetting(c)
	if key == flinkconf.HAType.Key {
		set = key + ": kubernetes"
	}
	fix := "this cluster's policy requires Kubernetes HA: set " + set + " (ZooKeeper state is not migrated)"
	if *p.AllowOptOut {
		fix += ", or annotate " + policy.AnnotationHA + `: "off"`
	}
	return fix
}

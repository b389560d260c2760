package cluster

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
	"github.com/flink-ha-webhook/flink-ha-webhook/recognise"
)

// ConfigMapRole is the part a ConfigMap plays for Flink.
type ConfigMapRole int

// The roles of ConfigMaps.
const (
	// NotFlink ConfigMaps are none of the webhook's business.
	NotFlink ConfigMapRole = iota
	// HAData holds a cluster's leader election and recovery pointers.
	HAData
	// ClusterConfig is the configuration of a cluster someone wrote.
	ClusterConfig
	// GeneratedConfig is flink-config-<cid>, written by Flink's native
	// client or the operator from the cluster's own configuration, whose
	// decision was made there.
	GeneratedConfig
	// OperatorConfig is the Flink Kubernetes Operator's own defaults.
	OperatorConfig
	// NoCluster is Flink configuration that configures no cluster: a
	// launcher's filesystem credentials, a client's settings.
	NoCluster
)

// Unreadable is a configuration file that cannot be parsed.
type Unreadable struct {
	Path *field.Path
	Err  error
}

// ConfigMapObject is what the rules know about a ConfigMap.
type ConfigMapObject struct {
	Object
	Role ConfigMapRole
	// Unreadable are the Flink configuration files that cannot be read.
	Unreadable []Unreadable
	// Warnings are what Flink would skip or override in the files, by
	// file.
	Warnings []string
}

// ConfigMap says what cm is to Flink. The configurations of a cluster's
// ConfigMap edit cm's data when stored; a generated one's are only read.
func ConfigMap(cm *corev1.ConfigMap, p *policy.Policy) *ConfigMapObject {
	o := &ConfigMapObject{Object: Object{Mode: Standalone, Versions: flinkconf.Supported, Namespace: cm.Namespace}}
	if _, ok := recognise.HAConfigMap(cm.Name, cm.Labels); ok {
		o.Role = HAData
		return o
	}
	keys := recognise.ConfigKeys(cm)
	switch {
	case len(keys) == 0:
		return o
	case recognise.OperatorConfigMap(cm):
		o.Role = OperatorConfig
		return o
	}
	if generated, native := recognise.GeneratedConfigMap(cm); generated {
		// Written by Flink or the operator from a configuration judged
		// where it was written: read, never edited.
		o.Role = GeneratedConfig
		if native {
			o.Mode = Native
		}
		o.readFiles(cm, keys, false)
		o.decide(p, cm.Annotations)
		return o
	}
	o.Role = NoCluster
	if o.readFiles(cm, keys, true) {
		o.Role = ClusterConfig
	}
	o.decide(p, cm.Annotations)
	return o
}

// readFiles adds a configuration for each file of cm that configures a
// cluster, editable in cm's data when edit is true, and reports whether
// some file configures a cluster or cannot be read.
func (o *ConfigMapObject) readFiles(cm *corev1.ConfigMap, keys []string, edit bool) bool {
	found := false
	for _, key := range keys {
		fp := dataPathOf(key)
		path := fp.path
		src, err := flinkconf.ParseFile(key, []byte(cm.Data[key]))
		if err != nil {
			found = true
			o.Unreadable = append(o.Unreadable, Unreadable{Path: path, Err: err})
			continue
		}
		if !recognise.ConfiguresCluster(src) {
			continue
		}
		found = true
		for _, w := range src.Warnings() {
			o.Warnings = append(o.Warnings, fp.name+": "+w.String())
		}
		c := Configuration{
			Path:       path,
			Versions:   fileVersions(key, keys),
			Nested:     key == recognise.KeyStandard,
			Standalone: o.Mode == Standalone,
		}
		if edit {
			c.Edit, c.EditPath = src, path
			c.Store = func() { cm.Data[key] = string(src.Bytes()) }
		}
		o.Configs = append(o.Configs, stacked(c, []flinkconf.Layer{layer(fp, src)}, []fieldPath{fp}))
	}
	return found
}

// fileVersions are the release lines that read a configuration file: the
// legacy file up to 1.20; config.yaml from 1.19, or from 2.0 beside a
// flink-conf.yaml, which 1.19 and 1.20 prefer.
func fileVersions(key string, keys []string) flinkconf.Range {
	if key == recognise.KeyLegacy {
		return flinkconf.Range{Min: flinkconf.Supported.Min, Max: flinkconf.V1_20}
	}
	for _, k := range keys {
		if k == recognise.KeyLegacy {
			return flinkconf.Range{Min: flinkconf.V2_0, Max: flinkconf.Supported.Max}
		}
	}
	return flinkconf.Range{Min: flinkconf.V1_19, Max: flinkconf.Supported.Max}
}

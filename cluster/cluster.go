package cluster

import (
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
)

// Mode is how a Flink cluster runs on Kubernetes.
type Mode string

// The modes.
const (
	// Standalone clusters are the Deployments, Jobs and ConfigMaps of the
	// Flink docs, every object written by their users.
	Standalone Mode = "standalone"
	// Native clusters are made by Flink itself: the JobManager Deployment,
	// the TaskManager pods and the flink-config-<cid> ConfigMap.
	Native Mode = "native"
	// Operator clusters are FlinkDeployments of the Flink Kubernetes
	// Operator.
	Operator Mode = "operator"
)

// Object is what the rules know about one Flink object.
type Object struct {
	Mode Mode
	// Versions are the Flink release lines that may run the object.
	Versions flinkconf.Range
	// VersionFrom says how Versions is known ("spec.flinkVersion v1_18",
	// "image flink:1.18"); "" when Versions is every supported line.
	VersionFrom string
	Namespace   string
	// ClusterID is the cluster-id the object itself fixes (a
	// FlinkDeployment's name), or "".
	ClusterID string
	// Configs are the configurations Flink reads for the object.
	Configs []*Configuration
	// Decision is what the policy decides for the object as a whole.
	Decision policy.Decision
	// OptOut is policy.ErrOptOutForbidden when the object opts out where
	// the policy forbids it.
	OptOut error
}

// Configuration is one configuration Flink reads for an object: its layers
// in the order Flink applies them, and the release lines that read it so.
type Configuration struct {
	// Path is the field holding the configuration; a key's field path is
	// Path.Key(key).
	Path   *field.Path
	Config *flinkconf.Config
	// Versions are the release lines that read the configuration this way.
	Versions flinkconf.Range
	// Nested is true when some of those lines read it as nested YAML, where
	// a key cannot be both a value and the prefix of other keys.
	Nested bool
	// Standalone configurations name their own HA cluster-id; the operator
	// and native Flink set it themselves.
	Standalone bool
	// Overrides marks what a container sets over a mounted configuration:
	// not a whole configuration, so not one to complete.
	Overrides bool
	// HA is how each release line reads the HA mode.
	HA flinkconf.HAReading
	// Decision is the policy's decision for this configuration.
	Decision policy.Decision

	// Edit is the source the mutating rules change, at EditPath; nil when
	// they must not change this configuration. Store writes an edited
	// Edit back into the object.
	Edit     flinkconf.Source
	EditPath *field.Path
	Store    func()

	// paths are the field paths of the layers, named as the layers are.
	paths []fieldPath
}

// HAOn reports whether every release line of the configuration runs
// Kubernetes HA, or, when the versions are not known, whether the newest
// does (what the configuration means to do).
func (c *Configuration) HAOn() bool {
	n := c.HA.Newest()
	return n.Mode == flinkconf.HAKubernetes && n.Fails == ""
}

// decide applies the policy to each configuration and to the object.
func (o *Object) decide(p *policy.Policy, annotations map[string]string) {
	haOn := false
	for _, c := range o.Configs {
		c.HA = c.Config.HAIn(c.Versions)
		haOn = haOn || c.HAOn()
	}
	o.Decision, o.OptOut = p.Decide(annotations, haOn)
	for _, c := range o.Configs {
		c.Decision, _ = p.Decide(annotations, c.HAOn())
	}
}

// layer is one source named by its field path.
func layer(path fieldPath, src flinkconf.Source) flinkconf.Layer {
	return flinkconf.Layer{Name: path.name, Source: src}
}

// configBlock is a configuration with room for the layers of every
// configuration the model makes (a file, FLINK_PROPERTIES, -D arguments)
// and their paths: one allocation instead of four.
type configBlock struct {
	c      Configuration
	cfg    flinkconf.Config
	layers [3]flinkconf.Layer
	paths  [3]fieldPath
}

// stacked returns c with layers, in the order Flink applies them, and the
// field paths that name them; both are copied.
func stacked(c Configuration, layers []flinkconf.Layer, paths []fieldPath) *Configuration {
	b := &configBlock{c: c}
	b.cfg.Layers = append(b.layers[:0], layers...)
	b.c.Config = &b.cfg
	b.c.paths = append(b.paths[:0], paths...)
	return &b.c
}

// At is the field path of a setting of the configuration: its layer's
// field and its key.
func (c *Configuration) At(s flinkconf.Setting) *field.Path {
	for _, l := range c.Config.Layers {
		if l.Name != s.Layer {
			continue
		}
		for _, p := range c.paths {
			if p.name == l.Name {
				return p.path.Key(s.Key)
			}
		}
	}
	return c.Path.Key(s.Key)
}

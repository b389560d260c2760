package cluster

import (
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/flink-ha-webhook/flink-ha-webhook/recognise"
)

// fieldPath is a field path with its string, which names the layer the
// field holds. Building the string (field.Path.String) costs more than
// reading a small configuration, and every object of one shape has the same
// paths, so the common ones are built once, below: a *field.Path is never
// changed, only extended into new ones, so they can be shared.
type fieldPath struct {
	path *field.Path
	name string
}

func newFieldPath(p *field.Path) fieldPath { return fieldPath{path: p, name: p.String()} }

// containerPaths are the fields of a container that hold configuration.
type containerPaths struct {
	container        *field.Path
	args, properties fieldPath
}

func newContainerPaths(i int) containerPaths {
	c := field.NewPath("spec", "template", "spec", "containers").Index(i)
	return containerPaths{container: c, args: newFieldPath(c.Child("args")), properties: newFieldPath(c.Child("env").Key(EnvProperties))}
}

// knownContainers are the paths of the first containers of a pod template,
// where Flink runs in every object seen.
var knownContainers = func() (out [8]containerPaths) {
	for i := range out {
		out[i] = newContainerPaths(i)
	}
	return out
}()

// containerPathsOf returns the paths of the i-th container.
func containerPathsOf(i int) containerPaths {
	if i < len(knownContainers) {
		return knownContainers[i]
	}
	return newContainerPaths(i)
}

// The paths of a ConfigMap's configuration files and of a FlinkDeployment's
// configuration.
var (
	dataLegacy   = newFieldPath(field.NewPath("data").Key(recognise.KeyLegacy))
	dataStandard = newFieldPath(field.NewPath("data").Key(recognise.KeyStandard))
	confPath     = newFieldPath(field.NewPath("spec", "flinkConfiguration"))
)

// dataPathOf returns the path of the file key of a ConfigMap's data.
func dataPathOf(key string) fieldPath {
	switch key {
	case recognise.KeyLegacy:
		return dataLegacy
	case recognise.KeyStandard:
		return dataStandard
	}
	return newFieldPath(field.NewPath("data").Key(key))
}

package flinkconf

import (
	"fmt"
	"strings"
)

// HATypeFrom is the first release line that reads high-availability.type;
// older lines read only high-availability and recovery.mode.
var HATypeFrom = V1_17

// HAShortValueFrom is the first release line that takes "kubernetes" as the
// HA mode; 1.15 takes any value but NONE and ZOOKEEPER for the class name
// of a factory, so "kubernetes" fails there at startup.
var HAShortValueFrom = V1_16

// HALine is how some release lines read a configuration's HA setting.
type HALine struct {
	Versions Range
	Mode     HAMode
	// At is the setting those lines read, when Set.
	At  Setting
	Set bool
	// Fails says why those lines cannot start with the setting, or "".
	Fails string
}

// HAReading is how every release line of a range reads a configuration's
// HA setting, oldest first.
type HAReading struct {
	Lines []HALine
}

// Newest is how the newest release line of the range reads it: the
// configuration's intent when the version is not known.
func (r HAReading) Newest() HALine { return r.Lines[len(r.Lines)-1] }

// Uniform reports whether every release line reads the same mode from the
// same key and none fails.
func (r HAReading) Uniform() bool {
	for _, l := range r.Lines {
		if l.Mode != r.Lines[0].Mode || l.Fails != "" || l.At.Key != r.Lines[0].At.Key {
			return false
		}
	}
	return true
}

// On reports whether every release line runs Kubernetes HA.
func (r HAReading) On() bool {
	for _, l := range r.Lines {
		if l.Mode != HAKubernetes || l.Fails != "" {
			return false
		}
	}
	return true
}

// haGroups are the release lines that read the HA setting alike; the
// oldest group includes the lines before 1.15, which read it as 1.15 does.
var haGroups = []Range{{Version{}, V1_15}, {V1_16, V1_16}, {V1_17, Version{99, 0}}}

// HAIn returns how each release line of versions reads the HA mode of c.
func (c *Config) HAIn(versions Range) HAReading {
	var out HAReading
	for _, g := range haGroups {
		r, ok := g.Intersect(versions)
		if !ok {
			continue
		}
		line := HALine{Versions: r}
		keys := HAType.Keys()
		if r.Max.Less(HATypeFrom) {
			keys = []string{"high-availability", "recovery.mode"}
		}
		for _, k := range keys {
			if s, ok := c.Get(k); ok {
				line.At, line.Set = s, true
				break
			}
		}
		line.Mode = ParseHAMode(line.At.Value)
		if line.Set && r.Max.Less(HAShortValueFrom) && line.Mode == HAKubernetes && strings.TrimSpace(line.At.Value) != KubernetesHAFactory {
			line.Mode = HAFactory
			line.Fails = fmt.Sprintf("Flink %s takes %q for the class name of an HA factory and fails to start; write %s", r, line.At.Value, KubernetesHAFactory)
		}
		out.Lines = append(out.Lines, line)
	}
	if len(out.Lines) == 0 { // a range outside the supported lines: read as the newest do
		s, ok := c.Lookup(HAType)
		out.Lines = []HALine{{Versions: versions, Mode: ParseHAMode(s.Value), At: s, Set: ok}}
	}
	return out
}

// HASpelling returns the key and value that turn Kubernetes HA on for every
// release line of versions, in a configuration that some of those lines
// read as nested YAML when nested is true, and why that spelling, for the
// warning ("" for the current one). ok is false when no spelling works for
// every line: the current key is returned, and why names the lines that
// ignore it.
func HASpelling(versions Range, nested bool) (key, value, why string, ok bool) {
	switch {
	case versions.AllAtLeast(HATypeFrom):
		return HAType.Key, "kubernetes", "", true
	case nested:
		return HAType.Key, "kubernetes", fmt.Sprintf("Flink %s ignore %s; pin the image tag", Range{versions.Min, V1_16}, HAType.Key), false
	case versions.AllAtLeast(HAShortValueFrom):
		return "high-availability", "kubernetes", "Flink 1.16 reads no high-availability.type", true
	case versions.Known():
		return "high-availability", KubernetesHAFactory, fmt.Sprintf("Flink %s reads only the factory class", versions), true
	default:
		return "high-availability", KubernetesHAFactory, fmt.Sprintf("Flink %s all read the factory class", versions), true
	}
}

package flinkconf

import (
	"fmt"
	"strings"
)

// Layer is a Source with the name messages use for it, such as
// "data[flink-conf.yaml]" or "env FLINK_PROPERTIES".
type Layer struct {
	Name   string
	Source Source
}

// Setting is the definition of a key that Flink uses, and where it is.
type Setting struct {
	Entry
	Layer string
}

func (s Setting) String() string { return fmt.Sprintf("%s %s", s.Layer, s.Where()) }

// Config is the configuration Flink ends up with: layers in the order Flink
// applies them (the file, then FLINK_PROPERTIES, then dynamic properties), a
// later layer overriding a key an earlier one set.
type Config struct {
	Layers []Layer
}

// Get returns the definition of exactly key that Flink uses.
func (c *Config) Get(key string) (Setting, bool) {
	for i := len(c.Layers) - 1; i >= 0; i-- {
		if e, ok := c.Layers[i].Source.Get(key); ok {
			return Setting{Entry: e, Layer: c.Layers[i].Name}, true
		}
	}
	return Setting{}, false
}

// Lookup returns the value Flink uses for o: its current key if set, else
// the first deprecated key that is.
func (c *Config) Lookup(o Option) (Setting, bool) {
	for _, k := range o.Keys() {
		if s, ok := c.Get(k); ok {
			return s, true
		}
	}
	return Setting{}, false
}

// HA returns the high-availability mode and, when it is set, where.
func (c *Config) HA() (HAMode, Setting, bool) {
	s, ok := c.Lookup(HAType)
	if !ok {
		return HANone, Setting{}, false
	}
	return ParseHAMode(s.Value), s, true
}

// ConflictKind classifies a Conflict.
type ConflictKind string

// The kinds of Conflict.
const (
	// ConflictZooKeeper is HA set to ZooKeeper: switching it to Kubernetes
	// silently would strand the cluster's recovery data.
	ConflictZooKeeper ConflictKind = "ZooKeeperHA"
	// ConflictSpellings is two spellings of one option set to different
	// values.
	ConflictSpellings ConflictKind = "Spellings"
	// ConflictLayers is one key set to different values in two layers.
	ConflictLayers ConflictKind = "Layers"
	// ConflictNested is a key that is both a value and the prefix of other
	// keys in a nested format (config.yaml, a nested flinkConfiguration),
	// such as "high-availability" beside "high-availability.storageDir".
	ConflictNested ConflictKind = "Nested"
)

// Conflict is something that makes a configuration ambiguous or unsafe to
// make highly available automatically.
type Conflict struct {
	Kind     ConflictKind
	Settings []Setting // the definitions involved, the one Flink uses last
	Message  string
}

// Conflicts lists every conflict, in a stable order.
func (c *Config) Conflicts() []Conflict {
	var out []Conflict
	if mode, s, ok := c.HA(); ok && mode == HAZooKeeper {
		out = append(out, Conflict{Kind: ConflictZooKeeper, Settings: []Setting{s},
			Message: fmt.Sprintf("%s is %q (ZooKeeper HA) at %s; to use Kubernetes HA set it to \"kubernetes\" and migrate or drop the ZooKeeper state", s.Key, s.Value, s)})
	}
	for _, o := range spelledOptions {
		var set []Setting
		for _, k := range o.Keys() {
			if s, ok := c.Get(k); ok {
				set = append(set, s)
			}
		}
		for _, s := range set[min(1, len(set)):] {
			if !sameValue(o, s.Value, set[0].Value) {
				out = append(out, Conflict{Kind: ConflictSpellings, Settings: []Setting{s, set[0]},
					Message: fmt.Sprintf("%s is %q at %s but %s is %q at %s; Flink uses %s: remove %s",
						s.Key, s.Value, s, set[0].Key, set[0].Value, set[0], set[0].Key, s.Key)})
			}
		}
	}
	seen := map[string]bool{}
	for i := len(c.Layers) - 1; i >= 0; i-- {
		for _, e := range c.Layers[i].Source.Entries() {
			if seen[e.Key] {
				continue
			}
			winner, _ := c.Get(e.Key)
			if winner.Layer == c.Layers[i].Name {
				continue
			}
			seen[e.Key] = true
			if e.Value != winner.Value {
				lost := Setting{Entry: e, Layer: c.Layers[i].Name}
				out = append(out, Conflict{Kind: ConflictLayers, Settings: []Setting{lost, winner},
					Message: fmt.Sprintf("%s is %q at %s but %q at %s, which wins; set it in one place", e.Key, e.Value, lost, winner.Value, winner)})
			}
		}
	}
	for _, l := range c.Layers {
		if f := l.Source.Format(); f != FormatStandard && f != FormatObject {
			continue
		}
		if o, ok := l.Source.(*Object); ok && o.Legacy {
			continue
		}
		entries := l.Source.Entries()
		for i, j := range firstUnder(entries) {
			if j < 0 {
				continue
			}
			p, e := entries[i], entries[j]
			ps, es := Setting{Entry: p, Layer: l.Name}, Setting{Entry: e, Layer: l.Name}
			out = append(out, Conflict{Kind: ConflictNested, Settings: []Setting{ps, es},
				Message: fmt.Sprintf("%s at %s is a value but also the prefix of %s at %s, which nested YAML cannot hold; rename %s to %s%s",
					p.Key, ps, e.Key, es, p.Key, p.Key, renameHint(p.Key))})
		}
	}
	return out
}

// firstUnder returns, for each entry, the first entry whose key continues
// its key after a '.' ("a.b" for "a"), or -1. Keys go into a tree of their
// dot-separated segments, each segment hashed once, so the cost is linear
// in the bytes of the keys, not in the square of their number.
func firstUnder(entries []Entry) []int {
	type edge struct {
		parent int32
		seg    string
	}
	child := make(map[edge]int32, len(entries))
	below := []int{-1} // per node: the first entry strictly under it; node 0 is the root
	nodeOf := make([]int32, len(entries))
	for i, e := range entries {
		n, key := int32(0), e.Key
		for {
			seg, rest, more := strings.Cut(key, ".")
			c, ok := child[edge{n, seg}]
			if !ok {
				c = int32(len(below))
				below = append(below, -1)
				child[edge{n, seg}] = c
			}
			n = c
			if !more {
				break
			}
			if below[n] < 0 {
				below[n] = i
			}
			key = rest
		}
		nodeOf[i] = n
	}
	out := make([]int, len(entries))
	for i, n := range nodeOf {
		out[i] = below[n]
	}
	return out
}

// renameHint says what a prefix key that is also a value is called today.
func renameHint(key string) string {
	if key == "high-availability" {
		return ".type"
	}
	return ".<suffix>"
}

func sameValue(o Option, a, b string) bool {
	if o.Key == HAType.Key {
		ma, mb := ParseHAMode(a), ParseHAMode(b)
		return ma == mb && (ma != HAFactory || a == b)
	}
	return a == b
}

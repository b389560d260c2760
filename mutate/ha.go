package mutate

import (
	"fmt"

	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
)

// MaxWarning is the longest admission warning a rule writes; kubectl prints
// each on one line.
const MaxWarning = 120

// Result is what a rule did to an object: Changes, one line for each change,
// and Notes, for what it could not do. Both become admission warnings; an
// object the rules have already seen gets no Changes.
type Result struct {
	Changes []string
	Notes   []string
	// rules counts the changes by the rule that made them.
	rules map[string]int
}

// The rules, as Result.Counts names them.
const (
	RuleHAConfig             = "ha-config"
	RuleStripOwnerReferences = "strip-owner-references"
)

// Counts returns how many changes each rule made.
func (r Result) Counts() map[string]int { return r.rules }

func (r *Result) changed(rule, msg string) {
	r.Changes = append(r.Changes, msg)
	if r.rules == nil {
		r.rules = map[string]int{}
	}
	r.rules[rule]++
}

// Warnings returns every line of r, changes first.
func (r Result) Warnings() []string {
	return append(append([]string(nil), r.Changes...), r.Notes...)
}

func (r *Result) add(o Result) {
	r.Changes = append(r.Changes, o.Changes...)
	r.Notes = append(r.Notes, o.Notes...)
	for rule, n := range o.rules {
		if r.rules == nil {
			r.rules = map[string]int{}
		}
		r.rules[rule] += n
	}
}

// warning formats one warning, shortened to MaxWarning characters.
func warning(format string, args ...any) string {
	s := fmt.Sprintf(format, args...)
	if r := []rune(s); len(r) > MaxWarning {
		s = string(r[:MaxWarning-1]) + "…"
	}
	return s
}

// source is one configuration source to make highly available.
type source struct {
	flinkconf.Source
	// name says where it is in the object, for warnings: "data[flink-conf.yaml]".
	name string
	// namespace and clusterID fill the policy's storageDir template;
	// clusterID "" means the one the configuration sets.
	namespace, clusterID string
	// standalone configurations get high-availability.cluster-id; the
	// operator sets it itself, and refuses it in flinkConfiguration.
	standalone bool
	// haKey and haValue turn HA on; by default high-availability.type:
	// kubernetes, which Flink reads from 1.16 on.
	haKey, haValue string
}

// completeHA turns Kubernetes HA on where decision says so and fills in
// what it needs: the storageDir from the policy and, for standalone
// configurations, the HA cluster-id. ZooKeeper and custom HA are never
// switched: validation reports them.
func completeHA(src source, p *policy.Policy, decision policy.Decision) Result {
	var r Result
	if decision == policy.Skip {
		return r
	}
	set := func(key, value string) bool {
		if _, err := src.Set(key, value); err != nil {
			r.Notes = append(r.Notes, warning("%s: could not set %s: %v", src.name, key, err))
			return false
		}
		r.changed(RuleHAConfig, warning("%s: set %s: %s", src.name, key, value))
		return true
	}
	cfg := &flinkconf.Config{Layers: []flinkconf.Layer{{Name: src.name, Source: src.Source}}}
	mode, at, isSet := cfg.HA()
	switch mode {
	case flinkconf.HAZooKeeper, flinkconf.HAFactory:
		return r
	case flinkconf.HANone:
		if decision != policy.MakeHA {
			return r
		}
		if isSet {
			// Every spelling goes, so none can say NONE beside the new key.
			for _, k := range flinkconf.HAType.Keys() {
				if _, err := src.Delete(k); err != nil {
					r.Notes = append(r.Notes, warning("%s: could not remove %s: %v", src.name, k, err))
					return r
				}
			}
			r.changed(RuleHAConfig, warning("%s: removed %s: %s", src.name, at.Key, at.Value))
		}
		key, value := flinkconf.HAType.Key, "kubernetes"
		if src.haKey != "" {
			key, value = src.haKey, src.haValue
		}
		if !set(key, value) {
			return r
		}
	}

	clusterID := src.clusterID
	if clusterID == "" {
		if s, ok := cfg.Lookup(flinkconf.ClusterID); ok && flinkconf.CheckClusterID(s.Value) == nil {
			clusterID = s.Value // an invalid one is validation's to deny, not ours to spread
		}
	}
	if _, ok := cfg.Lookup(flinkconf.HAStorageDir); !ok && p.StorageDir != "" && clusterID != "" && src.namespace != "" {
		set(flinkconf.HAStorageDir.Key, p.StorageDirFor(src.namespace, clusterID))
	}
	if _, ok := cfg.Lookup(flinkconf.HAClusterID); !ok && src.standalone && clusterID != "" {
		set(flinkconf.HAClusterID.Key, clusterID)
	}
	return r
}

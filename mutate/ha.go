package mutate

import (
	"fmt"
	"slices"

	"github.com/flink-ha-webhook/flink-ha-webhook/cluster"
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
	// quiet keeps the Changes out of Warnings.
	quiet bool
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

func (r *Result) note(format string, args ...any) {
	r.Notes = append(r.Notes, Warning(format, args...))
}

// Quiet keeps the lines of the Changes out of Warnings, for an object that
// is denied anyway: its user should read what to fix, not what was set.
func (r *Result) Quiet() { r.quiet = true }

// Warnings returns every line of r, changes first.
func (r Result) Warnings() []string {
	if r.quiet {
		return append([]string(nil), r.Notes...)
	}
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

// Warning formats one warning, shortened to MaxWarning characters.
func Warning(format string, args ...any) string {
	s := fmt.Sprintf(format, args...)
	if r := []rune(s); len(r) > MaxWarning {
		s = string(r[:MaxWarning-1]) + "…"
	}
	return s
}

// completeAll completes every configuration of o that the rules may edit,
// each edited source once, and stores what changed.
func completeAll(o *cluster.Object, p *policy.Policy) Result {
	var r Result
	shared := map[flinkconf.Source]int{}
	for _, c := range o.Configs {
		if c.Edit != nil {
			shared[c.Edit]++
		}
	}
	done := map[flinkconf.Source]bool{}
	for _, c := range o.Configs {
		if c.Edit == nil || done[c.Edit] {
			continue
		}
		done[c.Edit] = true
		versions, nested := c.Versions, c.Nested
		if shared[c.Edit] > 1 {
			// One text read by several rule sets: write what all of them
			// read alike.
			versions, nested = o.Versions, o.Nested()
			if foreignHA(o.Configs, c.Edit) {
				// Some lines run ZooKeeper or custom HA from it (a -D
				// only they read): never switched, validation reports it.
				continue
			}
		}
		res := completeHA(o, c, p, versions, nested)
		r.add(res)
		if len(res.Changes) > 0 {
			c.Store()
		}
	}
	return r
}

// foreignHA reports whether a configuration edited through edit runs
// ZooKeeper or custom HA on some release line.
func foreignHA(configs []*cluster.Configuration, edit flinkconf.Source) bool {
	return slices.ContainsFunc(configs, func(c *cluster.Configuration) bool {
		if c.Edit != edit || c.HAOn() {
			return false
		}
		m := c.HA.Newest().Mode
		return m == flinkconf.HAZooKeeper || m == flinkconf.HAFactory
	})
}

// completeHA turns Kubernetes HA on where the decision says so, in the
// spelling every release line of versions reads, and fills in what it
// needs: the storageDir from the policy and, for standalone configurations
// the webhook turns HA on in, the HA cluster-id. ZooKeeper and custom HA are
// never switched: validation reports them.
func completeHA(o *cluster.Object, c *cluster.Configuration, p *policy.Policy, versions flinkconf.Range, nested bool) Result {
	var r Result
	if c.Decision == policy.Skip || c.Overrides {
		return r
	}
	src, name := c.Edit, c.EditPath.String()
	set := func(key, value, why string) bool {
		if _, err := src.Set(key, value); err != nil {
			r.note("%s: could not set %s: %v", name, key, err)
			return false
		}
		line := fmt.Sprintf("%s: set %s: %s", name, key, value)
		if value == flinkconf.KubernetesHAFactory && len(line) > MaxWarning {
			line = fmt.Sprintf("%s: set %s to the KubernetesHaServicesFactory class", name, key)
		}
		r.changed(RuleHAConfig, Warning("%s", line))
		if why != "" {
			// Its own line: with the value it would not fit in one.
			r.Changes = append(r.Changes, Warning("%s: %s", name, why))
		}
		return true
	}
	newest := c.HA.Newest()
	turnedOn := false
	switch {
	case c.HAOn():
	case newest.Mode == flinkconf.HAZooKeeper || newest.Mode == flinkconf.HAFactory:
		return r
	case c.Decision != policy.MakeHA:
		return r
	default:
		if newest.Set {
			// Every spelling goes, so none can say NONE beside the new key.
			for _, k := range flinkconf.HAType.Keys() {
				if _, err := src.Delete(k); err != nil {
					r.note("%s: could not remove %s: %v", name, k, err)
					return r
				}
			}
			r.changed(RuleHAConfig, Warning("%s: removed %s: %s", name, newest.At.Key, newest.At.Value))
		}
		key, value, why, ok := flinkconf.HASpelling(versions, nested)
		if !ok {
			r.note("%s: %s", name, why)
			why = ""
		}
		if !set(key, value, why) {
			return r
		}
		turnedOn = true
	}

	cfg := c.Config
	if _, bare := cfg.Get("high-availability"); bare && c.Nested {
		return r // nested YAML holds no other HA key beside it: validation says to rename it
	}
	clusterID := o.ClusterID
	if clusterID == "" {
		if s, ok := cfg.Lookup(flinkconf.ClusterID); ok && flinkconf.CheckClusterID(s.Value) == nil {
			clusterID = s.Value // an invalid one is validation's to deny, not ours to spread
		}
	}
	storageAdded := false
	if _, ok := cfg.Lookup(flinkconf.HAStorageDir); !ok && p.StorageDir != "" && clusterID != "" && o.Namespace != "" {
		storageAdded = set(flinkconf.HAStorageDir.Key, p.StorageDirFor(o.Namespace, clusterID), "")
	}
	if _, ok := cfg.Lookup(flinkconf.HAClusterID); !ok && c.Standalone && clusterID != "" {
		if turnedOn || storageAdded {
			set(flinkconf.HAClusterID.Key, clusterID, "")
		} else {
			// A cluster that runs HA keeps its state under
			// <storageDir>/default and derives its application job id from
			// it: a new cluster-id would lose both.
			r.note("%s: no %s added: the running HA state under <storageDir>/default would move", name, flinkconf.HAClusterID.Key)
		}
	}
	return r
}

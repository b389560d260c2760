package rights

import (
	"bytes"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
)

// haBefore118: fabric8 5.x renews leadership with GET and PUT, and deletes
// the cluster's ConfigMaps by label as a list and a delete each.
var haBefore118 = []Access{
	{"", "configmaps", "get"}, {"", "configmaps", "list"}, {"", "configmaps", "watch"}, {"", "configmaps", "create"},
	{"", "configmaps", "update"}, {"", "configmaps", "delete"},
}

// ha118: fabric8 6.x renews with PATCH and deletes by label in one DELETE
// of the collection.
var ha118 = []Access{
	{"", "configmaps", "get"}, {"", "configmaps", "list"}, {"", "configmaps", "watch"}, {"", "configmaps", "create"},
	{"", "configmaps", "update"}, {"", "configmaps", "patch"}, {"", "configmaps", "delete"}, {"", "configmaps", "deletecollection"},
}

// haFrom119: 1.19 deletes by name only.
var haFrom119 = []Access{
	{"", "configmaps", "get"}, {"", "configmaps", "list"}, {"", "configmaps", "watch"}, {"", "configmaps", "create"},
	{"", "configmaps", "update"}, {"", "configmaps", "patch"}, {"", "configmaps", "delete"},
}

var nativeExtras = []Access{
	{"", "pods", "get"}, {"", "pods", "list"}, {"", "pods", "watch"}, {"", "pods", "create"}, {"", "pods", "delete"},
	{"apps", "deployments", "get"}, {"apps", "deployments", "delete"}, {"apps", "deployments/finalizers", "update"},
}

func TestNeeds(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		mode  Mode
		flink flinkconf.Range
		want  []Access
	}{
		"flink 1.15 standalone renews with GET and PUT: no patch":                            {Standalone, flinkconf.Exactly(flinkconf.V1_15), haBefore118},
		"flink 1.16 standalone: no patch":                                                    {Standalone, flinkconf.Exactly(flinkconf.V1_16), haBefore118},
		"flink 1.17 standalone, the last on fabric8 5.x":                                     {Standalone, flinkconf.Exactly(flinkconf.V1_17), haBefore118},
		"flink 1.18 standalone renews with PATCH and deletes its ConfigMaps as a collection": {Standalone, flinkconf.Exactly(flinkconf.V1_18), ha118},
		"flink 1.19 standalone deletes by name":                                              {Standalone, flinkconf.Exactly(flinkconf.V1_19), haFrom119},
		"flink 1.20 standalone":                                                              {Standalone, flinkconf.Exactly(flinkconf.V1_20), haFrom119},
		"flink 2.0 standalone":                                                               {Standalone, flinkconf.Exactly(flinkconf.V2_0), haFrom119},
		"flink 2.1 standalone":                                                               {Standalone, flinkconf.Exactly(flinkconf.V2_1), haFrom119},
		"an unknown version needs what any supported one needs to run, not 1.18's cleanup":   {Standalone, flinkconf.Range{}, haFrom119},
		"a range reaching 1.18 needs patch, and not the cleanup of 1.18 alone":               {Standalone, flinkconf.Range{Min: flinkconf.V1_16, Max: flinkconf.V1_18}, haFrom119},
		"a range below 1.18 does not":                                                        {Standalone, flinkconf.Range{Min: flinkconf.V1_15, Max: flinkconf.V1_17}, haBefore118},
		"flink 1.17 native also runs its TaskManager pods":                                   {Native, flinkconf.Exactly(flinkconf.V1_17), append(append([]Access{}, haBefore118...), nativeExtras...)},
		"flink 1.18 native":                                                                  {Native, flinkconf.Exactly(flinkconf.V1_18), append(append([]Access{}, ha118...), nativeExtras...)},
		"flink 2.1 native":                                                                   {Native, flinkconf.Exactly(flinkconf.V2_1), append(append([]Access{}, haFrom119...), nativeExtras...)},
		"native of an unknown version":                                                       {Native, flinkconf.Range{}, append(append([]Access{}, haFrom119...), nativeExtras...)},
	}
	for name, tc := range cases {
		assert.Equal(t, tc.want, Needs(tc.mode, tc.flink), name)
	}
}

// TestTaskManagerNeeds: TaskManagers of every release line and mode only
// retrieve leaders, which a list and a watch of the HA ConfigMaps do; what
// they need is part of what the Roles the webhook binds grant, so an
// account bound to either runs TaskManagers too.
func TestTaskManagerNeeds(t *testing.T) {
	t.Parallel()
	retrieval := []Access{{"", "configmaps", "list"}, {"", "configmaps", "watch"}}
	lines := []flinkconf.Version{flinkconf.V1_15, flinkconf.V1_16, flinkconf.V1_17, flinkconf.V1_18, flinkconf.V1_19, flinkconf.V1_20, flinkconf.V2_0, flinkconf.V2_1}
	ranges := map[string]flinkconf.Range{"an unknown version": {}, "every supported line": flinkconf.Supported}
	for _, v := range lines {
		ranges["flink "+v.String()] = flinkconf.Exactly(v)
	}
	for name, r := range ranges {
		assert.Equal(t, retrieval, TaskManagerNeeds(r), name)
		for _, m := range []Mode{Standalone, Native} {
			assert.Subset(t, Needs(m, r), TaskManagerNeeds(r), "%s: a %s JobManager needs what its TaskManagers need", name, m)
			assert.Subset(t, Grants(m, flinkconf.Supported), TaskManagerNeeds(r), "%s: the %s ClusterRole covers TaskManagers", name, m)
		}
	}
}

// TestGrants: a Role grants every access any line of its range uses, the
// cleanup of 1.18 included, where Needs asks only what all of them need.
func TestGrants(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		mode  Mode
		flink flinkconf.Range
		want  []Access
	}{
		"every supported line: 1.18's deletecollection too": {Standalone, flinkconf.Supported, ha118},
		"an unknown version is every supported line":        {Standalone, flinkconf.Range{}, ha118},
		"1.18 alone":                    {Standalone, flinkconf.Exactly(flinkconf.V1_18), ha118},
		"a range from 1.17 to 1.18":     {Standalone, flinkconf.Range{Min: flinkconf.V1_17, Max: flinkconf.V1_18}, ha118},
		"a range from 1.18 to 2.1":      {Standalone, flinkconf.Range{Min: flinkconf.V1_18, Max: flinkconf.V2_1}, ha118},
		"1.19 and later: no collection": {Standalone, flinkconf.Range{Min: flinkconf.V1_19, Max: flinkconf.V2_1}, haFrom119},
		"before 1.18: no patch either":  {Standalone, flinkconf.Range{Min: flinkconf.V1_15, Max: flinkconf.V1_17}, haBefore118},
		"native, every supported line":  {Native, flinkconf.Supported, append(append([]Access{}, ha118...), nativeExtras...)},
	}
	for name, tc := range cases {
		assert.Equal(t, tc.want, Grants(tc.mode, tc.flink), name)
	}
}

func TestRulesGroupByResource(t *testing.T) {
	t.Parallel()
	assert.Equal(t, []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}},
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch", "create", "delete"}},
		{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get", "delete"}},
		{APIGroups: []string{"apps"}, Resources: []string{"deployments/finalizers"}, Verbs: []string{"update"}},
	}, Rules(Native, flinkconf.Supported))
	assert.Equal(t, "get configmaps, delete deployments.apps", Join([]Access{{"", "configmaps", "get"}, {"apps", "deployments", "delete"}}))
}

// TestInstallGrantsTheList holds the ClusterRoles manifests/rbac.yaml
// installs to the list: Flink's rights for every supported release line.
func TestInstallGrantsTheList(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../manifests/rbac.yaml")
	require.NoError(t, err)
	found := map[string][]rbacv1.PolicyRule{}
	for _, doc := range bytes.Split(raw, []byte("\n---\n")) {
		var role rbacv1.ClusterRole
		require.NoError(t, yaml.Unmarshal(doc, &role))
		if role.Kind == "ClusterRole" {
			found[role.Name] = role.Rules
		}
	}
	for _, m := range []Mode{Standalone, Native} {
		name := ClusterRole("flink-ha-webhook", m)
		assert.Equal(t, Rules(m, flinkconf.Supported), found[name], name)
	}
	var bind rbacv1.PolicyRule
	for _, rule := range found["flink-ha-webhook"] {
		if rule.Resources[0] == "clusterroles" {
			bind = rule
		}
	}
	assert.Equal(t, rbacv1.PolicyRule{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"clusterroles"}, Verbs: []string{"bind"},
		ResourceNames: []string{ClusterRole("flink-ha-webhook", Standalone), ClusterRole("flink-ha-webhook", Native)}}, bind,
		"the webhook may bind these two roles and no other")
}

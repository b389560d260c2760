package handler

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
)

// TestMarshalWritesWhatJSONMarshalWrites: every golden object, as decoded and
// after the mutating rules, marshals to json.Marshal's bytes.
func TestMarshalWritesWhatJSONMarshalWrites(t *testing.T) {
	t.Parallel()
	p, err := policy.Load("testdata/policy.yaml")
	require.NoError(t, err)
	for _, js := range goldenObjects(t) {
		var tm metav1.TypeMeta
		require.NoError(t, json.Unmarshal(js, &tm))
		gv, _ := schema.ParseGroupVersion(tm.APIVersion)
		gk := gv.WithKind(tm.Kind).GroupKind()
		if !Known(gk) {
			continue
		}
		r, err := Run(gk, js, "team", p, Phases{Mutate: true})
		require.NoError(t, err)
		again := kinds[gk].newObject()
		require.NoError(t, json.Unmarshal(js, again))
		for _, obj := range []runtime.Object{again, r.Object.(runtime.Object)} {
			want, err := json.Marshal(obj)
			require.NoError(t, err)
			got, err := marshal(obj)
			require.NoError(t, err)
			assert.Equal(t, string(want), string(got), "%s", js)
		}
	}
}

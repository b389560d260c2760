package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/assert"
	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/flink-ha-webhook/flink-ha-webhook/accounts"
)

// TestLateKind runs the poll against RESTMappers that serve the kind or do
// not (the API server's discovery is test/latecrd's): how often each watch
// runs, and that the poll ends.
func TestLateKind(t *testing.T) {
	t.Parallel()
	served := meta.NewDefaultRESTMapper(nil)
	served.Add(accounts.FlinkDeploymentGVK, meta.RESTScopeNamespace)
	cases := map[string]struct {
		mapper meta.RESTMapper
		// failures are how many times each watch fails before it works.
		failures []int
		runs     []int
	}{
		"a kind served: each watch runs once and the poll ends": {
			mapper: served, failures: []int{0, 0}, runs: []int{1, 1},
		},
		"a watch that fails runs again, alone, until it works": {
			mapper: served, failures: []int{0, 2}, runs: []int{1, 3},
		},
		"a kind not served: nothing runs until serve stops": {
			mapper: meta.NewDefaultRESTMapper(nil), failures: []int{0, 0}, runs: []int{0, 0},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			runs := make([]int, len(tc.failures))
			var watch []func(context.Context) error
			for i := range tc.failures {
				watch = append(watch, func(context.Context) error {
					runs[i]++
					if runs[i] <= tc.failures[i] {
						return errors.New("not yet")
					}
					return nil
				})
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			l := &lateKind{mapper: tc.mapper, kind: accounts.FlinkDeploymentGVK, interval: time.Millisecond, watch: watch, log: logr.Discard()}
			assert.NoError(t, l.Start(ctx))
			assert.Equal(t, tc.runs, runs)
			assert.False(t, l.NeedLeaderElection(), "every replica's collision check reads the kind")
		})
	}
}

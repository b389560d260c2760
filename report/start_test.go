package report

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	clienttesting "k8s.io/client-go/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/flink-ha-webhook/flink-ha-webhook/audit"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
)

// returned waits for Start to return. The minute is no timing: it only
// turns a Start that never returns into a failure rather than a hang.
func returned(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		t.Fatal("Start did not return after its context ended")
		return nil
	}
}

func TestStartBeforeTheFirstAuditStopsWithoutOne(t *testing.T) {
	f := newFakes(t, nil, cluster("team")...)
	r := f.runner(WGPolicy)
	r.Interval = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan error, 1)
	go func() { done <- r.Start(ctx) }()
	assert.NoError(t, returned(t, done))
	assert.Empty(t, f.kube.Actions(), "no audit")
	assert.Empty(t, f.metadata.Actions(), "no audit")
	assert.Empty(t, f.dynamic.Actions(), "no audit")
}

// TestStartAuditsUntilItsContextEnds: the audit runs again every
// Interval; a failed one is logged and tried again, and one that fails
// because the context ended is not logged.
func TestStartAuditsUntilItsContextEnds(t *testing.T) {
	f := newFakes(t, nil, cluster("team")...)
	r := f.runner(WGPolicy)
	r.Interval = time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	audits := 0
	f.metadata.PrependReactor("list", "configmaps", func(clienttesting.Action) (bool, runtime.Object, error) {
		audits++
		switch audits {
		case 1:
			return true, nil, errors.New("etcdserver: request timed out")
		case 3:
			cancel()
			return true, nil, context.Canceled
		}
		return false, nil, nil
	})
	var logs []string
	ctx = logr.NewContext(ctx, funcr.New(func(prefix, args string) { logs = append(logs, prefix+" "+args) }, funcr.Options{}))
	done := make(chan error, 1)
	go func() { done <- r.Start(ctx) }()
	assert.NoError(t, returned(t, done))
	assert.Equal(t, 3, audits, "audits: a failed one, a good one, the one the context ended")
	assert.Equal(t, []string{`audit "msg"="background audit failed; trying again" "error"="listing ConfigMaps: etcdserver: request timed out" "in"="1ms"`}, logs)
	assert.NotNil(t, f.stored(t, WGPolicy, "team"), "the good audit's report")
}

func TestRunnerAuditsInTheLeaderOnly(t *testing.T) {
	t.Parallel()
	var r manager.LeaderElectionRunnable = &Runner{}
	assert.True(t, r.NeedLeaderElection())
}

// fakeManager is the part of a manager Setup uses: its configuration, its
// RESTMapper (what the API server serves, here a static one) and Add.
type fakeManager struct {
	ctrl.Manager
	mapper meta.RESTMapper
	added  []manager.Runnable
	err    error
}

func (m *fakeManager) GetConfig() *rest.Config        { return &rest.Config{Host: "https://127.0.0.1:6443"} }
func (m *fakeManager) GetRESTMapper() meta.RESTMapper { return m.mapper }
func (m *fakeManager) Add(r manager.Runnable) error   { m.added = append(m.added, r); return m.err }

func TestSetupPrefersOpenReports(t *testing.T) {
	t.Parallel()
	openReports := schema.GroupVersionKind{Group: "openreports.io", Version: "v1alpha1", Kind: "Report"}
	wgPolicy := schema.GroupVersionKind{Group: "wgpolicyk8s.io", Version: "v1alpha2", Kind: "PolicyReport"}
	cases := map[string]struct {
		installed []schema.GroupVersionKind
		want      schema.GroupVersionResource
	}{
		"both installed: OpenReports, which succeeds the working group's": {[]schema.GroupVersionKind{wgPolicy, openReports}, OpenReports},
		"only the working group's":                                        {[]schema.GroupVersionKind{wgPolicy}, WGPolicy},
		"only OpenReports":                                                {[]schema.GroupVersionKind{openReports}, OpenReports},
		"none: gauges only":                                               {nil, schema.GroupVersionResource{}},
	}
	p := policy.Default()
	for name, tc := range cases {
		mapper := meta.NewDefaultRESTMapper(nil)
		for _, gvk := range tc.installed {
			mapper.Add(gvk, meta.RESTScopeNamespace)
		}
		m := &fakeManager{mapper: mapper}
		require.NoError(t, Setup(m, p, nil, 5*time.Minute), name)
		require.Len(t, m.added, 1, name)
		r := m.added[0].(*Runner)
		assert.NotNil(t, r.Clients.Kube, name)
		assert.NotNil(t, r.Clients.Dynamic, name)
		assert.NotNil(t, r.Clients.Metadata, name)
		r.Clients = audit.Clients{}
		assert.Equal(t, &Runner{Policy: p, Interval: 5 * time.Minute, Reports: tc.want}, r, name)
	}

	sentinel := errors.New("from PolicyFor")
	m := &fakeManager{mapper: meta.NewDefaultRESTMapper(nil), err: errors.New("manager already started")}
	assert.EqualError(t, Setup(m, p, func(context.Context, string) (*policy.Policy, error) { return nil, sentinel }, time.Minute), "manager already started")
	_, err := m.added[0].(*Runner).PolicyFor(context.Background(), "team")
	assert.Equal(t, sentinel, err, "the namespaces' policies are the runner's")
}

package main

import (
	"context"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// lateKind watches a custom resource that may be installed after serve
// started (the Flink Kubernetes Operator after the webhook). While the API
// server does not serve kind it asks every interval and, once it does,
// runs each of watch, again at the next round those that failed, then
// stops. It asks the manager's RESTMapper, which on a kind it does not
// know asks the API server's discovery again (one request for the group
// and version), and which other readers of the kind share: discovery needs
// no rights beyond those of every authenticated user, where watching
// CustomResourceDefinitions would. It runs in every replica: the collision
// check reads the kind in each; a controller not started yet (a replica
// not elected leader) starts the watch it is given when it starts.
type lateKind struct {
	mapper   meta.RESTMapper
	kind     schema.GroupVersionKind
	interval time.Duration
	watch    []func(context.Context) error
	log      logr.Logger
}

// NeedLeaderElection implements manager.LeaderElectionRunnable.
func (l *lateKind) NeedLeaderElection() bool { return false }

// Start implements manager.Runnable. Its first look needs no request where
// the kind was served at the start: the watches are then in place already
// and each of watch does nothing.
func (l *lateKind) Start(ctx context.Context) error {
	pending := l.watch
	waited := false
	tick := time.NewTicker(l.interval)
	defer tick.Stop()
	for {
		_, err := l.mapper.RESTMapping(l.kind.GroupKind(), l.kind.Version)
		switch {
		case err == nil:
			pending = failed(ctx, pending, l.log)
			if len(pending) == 0 {
				if waited {
					l.log.Info("the API server serves "+l.kind.Kind+"s now: watching them", "apiVersion", l.kind.GroupVersion().String())
				}
				return nil
			}
		case !meta.IsNoMatchError(err):
			l.log.Error(err, "could not ask the API server whether it serves "+l.kind.Kind+"s; asking again", "in", l.interval.String())
		}
		waited = true
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// failed runs each of watch and returns those that failed, logged.
func failed(ctx context.Context, watch []func(context.Context) error, log logr.Logger) []func(context.Context) error {
	var again []func(context.Context) error
	for _, w := range watch {
		if err := w(ctx); err != nil {
			log.Error(err, "could not watch a kind the API server serves now; trying again")
			again = append(again, w)
		}
	}
	return again
}

package handler

import (
	"context"
	"time"

	"github.com/go-logr/logr"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// Observed wraps the handler of the webhook name (mutate, validate) with
// its request count and, with --debug, a log line per request; the
// handlers themselves only decide.
func Observed(name string, h admission.Handler) admission.Handler {
	return &observed{name: name, h: h, log: logf.Log.WithName("admission").WithValues("webhook", name)}
}

type observed struct {
	name string
	h    admission.Handler
	log  logr.Logger
}

// Handle implements admission.Handler.
func (o *observed) Handle(ctx context.Context, req admission.Request) admission.Response {
	start := time.Now()
	requestsTotal.WithLabelValues(o.name, kindLabel(req.Kind.Group, req.Kind.Kind), operationLabel(req.Operation)).Inc()
	resp := o.h.Handle(ctx, req)
	if log := o.log.V(1); log.Enabled() {
		log = log.WithValues("kind", req.Kind.Kind, "namespace", req.Namespace, "name", req.Name,
			"operation", req.Operation, "uid", req.UID)
		if req.DryRun != nil && *req.DryRun {
			log = log.WithValues("dryRun", true)
		}
		log.Info("admission", "allowed", resp.Allowed, "changes", len(resp.Patches), "warnings", len(resp.Warnings),
			"duration", time.Since(start).String())
	}
	return resp
}

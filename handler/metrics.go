package handler

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// The webhook's own metrics, beside controller-runtime's per-path request
// counts and latencies.
var (
	requestsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flink_ha_webhook_admission_requests_total",
		Help: "Admission requests by webhook (mutate, validate), kind and operation.",
	}, []string{"webhook", "kind", "operation"})
	changesTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flink_ha_webhook_changes_total",
		Help: "Changes made by the mutating webhook, by kind and rule.",
	}, []string{"kind", "rule"})
	denialsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flink_ha_webhook_denials_total",
		Help: "Objects denied by the validating webhook, by kind.",
	}, []string{"kind"})
	warnedTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flink_ha_webhook_warned_total",
		Help: "Objects admitted with problems because the policy only warns, by kind.",
	}, []string{"kind"})
)

func init() {
	metrics.Registry.MustRegister(requestsTotal, changesTotal, denialsTotal, warnedTotal)
}

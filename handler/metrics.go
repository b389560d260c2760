package handler

import (
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// The webhook's own metrics. Every label value comes from a closed set
// (kindLabel, operationLabel, the rules' names, the webhooks' names), never
// from the request as sent, so that no client can grow /metrics.
var (
	requestsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flink_ha_webhook_admission_requests_total",
		Help: "Admission requests by webhook (mutate, validate), kind (other for kinds the rules do not handle) and operation.",
	}, []string{"webhook", "kind", "operation"})
	durationSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "flink_ha_webhook_admission_duration_seconds",
		Help:    "Time from a review's arrival to its answer, queueing included, by webhook and HTTP status.",
		Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
	}, []string{"webhook", "code"})
	inFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "flink_ha_webhook_admission_in_flight",
		Help: "Reviews being worked on now (at most --max-concurrent-reviews).",
	})
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
	heldBackTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flink_ha_webhook_held_back_total",
		Help: "Objects the mutating webhook did not turn HA on for because an account they run under may not do what HA needs, by kind.",
	}, []string{"kind"})
)

func init() {
	metrics.Registry.MustRegister(requestsTotal, durationSeconds, inFlight, changesTotal, denialsTotal, warnedTotal, heldBackTotal)
}

// otherLabel stands for every value outside a label's closed set.
const otherLabel = "other"

// kindLabel is the kind's name if the rules handle it, otherLabel if not.
func kindLabel(group, kind string) string {
	if Known(schema.GroupKind{Group: group, Kind: kind}) {
		return kind
	}
	return otherLabel
}

// operationLabel is one of the four admission operations, or otherLabel.
func operationLabel(op admissionv1.Operation) string {
	switch op {
	case admissionv1.Create, admissionv1.Update, admissionv1.Delete, admissionv1.Connect:
		return string(op)
	}
	return otherLabel
}

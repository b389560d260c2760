package report

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/flink-ha-webhook/flink-ha-webhook/audit"
	"github.com/flink-ha-webhook/flink-ha-webhook/fleet"
)

var (
	clusters = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "flink_ha_webhook_clusters",
		Help: "Flink clusters the background audit found, by HA state (on, off, zookeeper, custom, conflicting).",
	}, []string{"ha"})
	atRiskConfigMaps = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "flink_ha_webhook_at_risk_ha_configmaps",
		Help: "HA ConfigMaps with owner references, which the garbage collector deletes with their owner.",
	})
	collisions = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "flink_ha_webhook_collisions",
		Help: "Pairs of Flink clusters sharing a cluster-id in a namespace (cluster-id) or an HA storage path (storage-path).",
	}, []string{"kind"})
	atRiskClusters = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "flink_ha_webhook_at_risk_clusters",
		Help: "Flink clusters the background audit found at risk, for any reason.",
	})
	lastSuccess = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "flink_ha_webhook_audit_last_success_timestamp_seconds",
		Help: "When the background audit last completed.",
	})
)

func init() {
	metrics.Registry.MustRegister(clusters, atRiskConfigMaps, collisions, atRiskClusters, lastSuccess)
}

var haStates = []fleet.HAState{fleet.HAOn, fleet.HAOff, fleet.HAZooKeeper, fleet.HACustom, fleet.HAConflicting}

// publish sets the gauges from one audit; every state and kind is set, to
// zero when none, so that alerts see a series rather than none.
func publish(r *audit.Report) {
	byHA := map[fleet.HAState]int{}
	owned, risky := 0, 0
	for _, c := range r.Clusters {
		if c.Mode != "" {
			byHA[c.HA]++
		}
		for _, h := range c.HAConfigMaps {
			if len(h.Owners) > 0 {
				owned++
			}
		}
		if len(c.AtRisk) > 0 {
			risky++
		}
	}
	for _, s := range haStates {
		clusters.WithLabelValues(string(s)).Set(float64(byHA[s]))
	}
	byKind := map[fleet.CollisionKind]int{}
	for _, c := range r.Collisions {
		byKind[c.Kind]++
	}
	for _, k := range []fleet.CollisionKind{fleet.SameClusterID, fleet.SameStoragePath} {
		collisions.WithLabelValues(string(k)).Set(float64(byKind[k]))
	}
	atRiskConfigMaps.Set(float64(owned))
	atRiskClusters.Set(float64(risky))
}

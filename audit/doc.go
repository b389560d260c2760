// Package audit finds every Flink cluster on a live Kubernetes cluster,
// however it is deployed, and reports its high availability: the
// configuration, the HA ConfigMaps and whether they are at risk, the rights
// of its account, what the webhook's policy would change or deny, and
// clusters that collide. It only reads.
package audit

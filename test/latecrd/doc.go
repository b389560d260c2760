// Package latecrd holds the end-to-end test of a Flink Kubernetes Operator
// installed after the webhook: on a control plane of its own, which serves
// no FlinkDeployments when the webhook starts, the FlinkDeployment CRD is
// installed while the real binary runs.
package latecrd

// Package audit_test runs flink-ha-webhook audit against Flink clusters on
// the real control plane, without the webhook: objects stay as written.
package audit_test

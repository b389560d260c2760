// Package report keeps the audit current in the background, in the leader
// replica of serve: Prometheus gauges, and a policy report per namespace
// (OpenReports or wgpolicyk8s.io, whichever is installed) for the
// dashboards that already show other policy engines' results.
package report

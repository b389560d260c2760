// Package policy is what a platform team decides for every Flink cluster the
// webhook sees: where HA state goes, which service account runs Flink,
// whether HA is applied to all clusters or only those that ask, and whether
// violations are denied or only warned about.
package policy

// Package nspolicy gives namespaces their own policy: cluster-scoped
// FlinkHAPolicy resources select namespaces by label and override fields of
// the policy file, which stays the default. serve reads them live from the
// API server; inject reads the same documents from a file.
package nspolicy

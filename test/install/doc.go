// Package install applies the project's install manifests, as users apply
// them, to a real control plane with cert-manager's CRDs.
package install

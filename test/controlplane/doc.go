// Package controlplane runs a real kube-apiserver, etcd and (optionally)
// kube-controller-manager for end-to-end tests, and lets them drive it through
// the real kubectl.
//
// The binaries come from KUBEBUILDER_ASSETS when it is set, otherwise from the
// cache that `make controlplane` (hack/controlplane.sh) fills at the version
// pinned in hack/kube-version. Every process the package starts is tied to
// the test binary with a parent-death signal, so a test that fails, panics,
// times out or is interrupted leaves nothing running.
package controlplane

// Package e2e holds the end-to-end tests: each runs against a real
// kube-apiserver, etcd and kube-controller-manager and acts through the real
// kubectl, as a user would.
package e2e

// Package recognise tells which Kubernetes objects are Flink's and what part
// they play, from names, labels and content alone.
package recognise

// Package fleet reads what makes a Flink cluster one cluster among many (its
// cluster-id, its HA storage path, how it is deployed) from the configurations
// package cluster reads for each object, and finds clusters that collide: the
// failures no single object shows.
package fleet

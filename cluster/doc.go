// Package cluster answers, once for any Flink object, what the webhook's
// rules need to know about the Flink cluster behind it: the release lines
// that may read its configuration, how it runs (standalone, native, under
// the operator), each configuration Flink reads with its layers and field
// paths, how those release lines read its HA setting, and what the policy
// decides. The mutating and validating rules both read from it, and fleet
// reads a cluster's identity from it.
package cluster

// Package flinkconf reads and edits Apache Flink configuration in every form
// it takes on Kubernetes, keeping every byte the user wrote except the ones an
// edit must change.
//
// Four kinds of source are understood, each a Source:
//
//   - Legacy: flink-conf.yaml text and the FLINK_PROPERTIES environment
//     variable, read with Flink's own line rules rather than as YAML;
//   - Standard: config.yaml (Flink 1.19+), YAML 1.2 with nested maps
//     flattened by ".";
//   - Args: "-D key=value" and "-Dkey=value" dynamic properties in container
//     arguments;
//   - Object: a FlinkDeployment's spec.flinkConfiguration, flat or nested.
//
// A Config stacks sources in the order Flink applies them and answers the
// questions an admission webhook asks: the effective value of an option
// through every deprecated spelling, the high-availability mode, and the
// conflicts that make a configuration ambiguous. CheckClusterID and
// CheckStorageDir say precisely what is wrong with a value.
//
// The package imports nothing from Kubernetes: it is pure text and data.
//
// Measured on a two-core machine (go test -bench, see BenchmarkParseAndEdit),
// parsing a 100-line configuration and applying the HA edit of two keys:
// see the README's performance table.
package flinkconf

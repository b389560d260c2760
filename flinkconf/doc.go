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
// Every edit of a config.yaml is verified by reading the result back: it must
// give the new value for the key and every other key unchanged, in order, or
// the edit is refused and the text stays as it was. Parsing takes a fast
// path for plain block-style YAML and falls back to go.yaml.in/yaml/v3 for
// the rest of YAML; FuzzScanBlock holds the two to the same answers.
//
// Cost of parsing a typical 100-line configuration and applying the HA edit
// (two keys), BenchmarkParseAndEdit on a quiet two-core machine:
//
//	flink-conf.yaml       ~27 µs   26 allocations
//	config.yaml           ~48 µs   66 allocations (three parses: one, and one per verified edit)
//	-D arguments           ~7 µs   38 allocations
//	flinkConfiguration    ~28 µs  189 allocations
package flinkconf

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
//     arguments, read only up to where the entrypoint's command-line parser
//     stops reading options, as each release line's parser does;
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
// Every edit of a config.yaml is verified by reading the result back with
// the same full YAML parser (go.yaml.in/yaml/v3) that read the original: it
// must give the new value for the key and every other key unchanged, in
// order, or the edit is refused and the text stays as it was. Edits splice
// bytes at the positions yaml.v3 reports; yaml.v3 also chooses how a new
// value is quoted (what it writes plain, such as keys, class names, paths
// and ids, is recognised without asking it, by a rule the tests hold to its
// choice).
//
// A config.yaml text parsed again is not parsed again: the last 64 texts
// of up to 8 KiB, and what they parsed to, are kept, and each later reader
// gets a copy of its own. Admitting one ConfigMap reads its text several
// times (to recognise it, to decide its cluster, to check each edit, to
// validate the result, to identify its cluster), and the validating
// webhook reads what the mutating one wrote.
//
// Every parser and check takes time and memory linear in its input, and
// stops with an error naming the limit before it builds more than the
// limits allow: at most 8192 node-making separators in a config.yaml
// (checked on the text, since yaml.v3 builds its whole tree at once),
// 100000 YAML nodes once aliases are expanded, 4 MiB of flattened keys and
// joined values, 64 levels of nesting. A source keeps at most 100 warnings
// of at most 120 bytes each, and counts the rest. MayHaveKeyWithPrefix
// rules out, without parsing, a config.yaml that cannot set a given key.
//
// Cost of parsing a typical 100-line configuration and applying the HA edit
// (two keys), BenchmarkParseAndEdit on a two-core machine:
//
//	flink-conf.yaml       ~27 µs    32 allocations
//	config.yaml          ~0.5 ms  2470 allocations (three full YAML parses: one, and one per verified edit)
//	config.yaml again      ~4 µs     7 allocations (the same text parsed before)
//	-D arguments          ~12 µs    38 allocations (the release line unknown: standalone-job's three option sets read)
//	flinkConfiguration    ~28 µs   186 allocations
//
// BenchmarkScaling reads the worst shapes found (one-line JSON, long flow
// lists and mappings, many keys, nesting, aliases, long lines, many
// warnings and duplicates) at doubling sizes up to 1 MiB; each doubling of
// the input about doubles the time. TestWorkIsLinear checks the same on
// allocated bytes, without a clock.
package flinkconf

package recognise

// LegacyFormat reports whether the Flink Kubernetes Operator writes a
// FlinkDeployment's configuration as flink-conf.yaml, which it does for every
// Flink before 1.19 (spec.flinkVersion v1_13 to v1_18).
func LegacyFormat(flinkVersion string) bool {
	switch flinkVersion {
	case "v1_13", "v1_14", "v1_15", "v1_16", "v1_17", "v1_18":
		return true
	}
	return false
}

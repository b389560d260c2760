// Package validate holds the rules that decide whether a Flink object can
// run highly available: pure functions of (object, policy) returning every
// problem as a field error that says how to fix it, and warnings.
package validate

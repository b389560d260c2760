// Package mutate holds the rules that change Flink objects: pure functions of
// (object, policy) that edit the object in place and return one admission
// warning line for every change they make.
package mutate

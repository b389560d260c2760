// Package handler turns admission requests into calls of the mutate and
// validate rules and their results into admission responses: minimal JSON
// patches, denials listing every problem, warnings.
package handler

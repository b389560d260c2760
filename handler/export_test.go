package handler

// For the tests of package handler_test.
var (
	WithManagedFields = withManagedFields
	ManagedFields     = managedFields
)

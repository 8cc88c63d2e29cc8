//go:build integration

package testsupport

// Integration reports whether the tests are built with the integration
// tag, to run against the Collector and Loki that tools/stack starts.
const Integration = true

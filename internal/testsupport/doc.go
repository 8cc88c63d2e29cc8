// Package testsupport is what the tests of secaudit's packages share: a
// TestMain that makes every package's tests immune to the machine's
// SECAUDIT_* and OTEL_* variables and fails a package that leaks
// goroutines ([Main]), the same clearing for one test ([ClearEnv]),
// goroutine checks that wait for goroutines to settle
// ([CheckGoroutines], [Snapshot]), whether the race detector is on
// ([Race]), a processor that keeps the records it is given ([Capture]),
// SDK records and their attributes ([SDKRecord], [NewProvider],
// [AttrMap]) and the reference's seed vectors, whose one copy in the
// repository is its testdata/seed-vectors.jsonl ([Vectors]), the
// router conformance table that the audit middleware's tests for the
// ServeMux and every router adapter run ([RouterConformance],
// [RouterConformanceLayouts]), and what else the router adapters' tests
// share: their route checks ([CheckRoutes], [RouteWithoutAuditMiddleware]),
// their benchmarks of the router alone, behind the audit middleware and
// with the adapter ([RouterBenchmark]) and their allocation budget
// ([RouterAllocations]), each adapter passing in the router-specific
// parts as functions ([RouterStacks]): this package imports no router.
//
// It is for _test.go files only. It imports testing, the OpenTelemetry
// SDK, otelhttp and go.uber.org/goleak, a test-only dependency: no non-test file of
// the module may import it (TestNotImportedByNonTestCode enforces that).
//
// Every package of the module that has tests has a main_test.go:
//
//	func TestMain(m *testing.M) { testsupport.Main(m) }
package testsupport

package testsupport

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// Which variables are cleared, and why all of them: a test must see the
// environment it sets itself (t.Setenv) and nothing else, and a hand-kept
// list of the names secaudit reads goes stale (one did). Besides the names
// internal/envconf lists, the OpenTelemetry SDK and exporters read OTEL_
// names of their own (OTEL_SDK_DISABLED, OTEL_BLRP_*, OTEL_*_LIMIT,
// OTEL_GO_X_*, …), and setup reports every unknown SECAUDIT_ name and
// misspelt OTEL_ name through the OTel error handler, which tests capture.
// So every SECAUDIT_ and OTEL_ variable is cleared, except those below.

// keptPrefixes are the SECAUDIT_ names that configure tools/stack and the
// Collector and Loki it runs, never the library (envconf's reserved
// prefixes: its Unknown does not report them). The integration tests read
// them, and clearing them would change nothing else, so they are kept.
var keptPrefixes = []string{"SECAUDIT_STACK_", "SECAUDIT_OTELCOL_", "SECAUDIT_LOKI_"}

// stackNames are the OTEL_ names that tools/stack's stack.env sets for the
// integration tests to reach the Collector. [Main] keeps them in a build
// with the integration tag only: a unit test must not export to a
// Collector that happens to be running.
var stackNames = []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL"}

// serviceTestPrefixes are the names a .ci/services script prints for the
// integration tests to reach its server (SECAUDIT_TEST_REDIS_URL,
// SECAUDIT_TEST_REDIS_SERVER, SECAUDIT_TEST_POSTGRES_DSN, SECAUDIT_TEST_CHROMIUM); kept, like
// stackNames, in a build with the integration tag only.
var serviceTestPrefixes = []string{"SECAUDIT_TEST_REDIS_", "SECAUDIT_TEST_POSTGRES_", "SECAUDIT_TEST_CHROMIUM"}

// stray reports whether name is a SECAUDIT_ or OTEL_ variable to clear;
// integration keeps stackNames as well.
func stray(name string, integration bool) bool {
	if !strings.HasPrefix(name, "SECAUDIT_") && !strings.HasPrefix(name, "OTEL_") {
		return false
	}
	if slices.ContainsFunc(keptPrefixes, func(p string) bool { return strings.HasPrefix(name, p) }) {
		return false
	}
	if !integration {
		return true
	}
	return !slices.Contains(stackNames, name) &&
		!slices.ContainsFunc(serviceTestPrefixes, func(p string) bool { return strings.HasPrefix(name, p) })
}

// strayNames returns the names in environ ("NAME=value" entries, as
// os.Environ returns them) that stray reports.
func strayNames(environ []string, integration bool) []string {
	var out []string
	for _, kv := range environ {
		if name, _, _ := strings.Cut(kv, "="); stray(name, integration) {
			out = append(out, name)
		}
	}
	return out
}

// ClearEnv unsets, for the duration of t, every SECAUDIT_ and OTEL_
// variable except the tools/stack ones (SECAUDIT_STACK_*,
// SECAUDIT_OTELCOL_*, SECAUDIT_LOKI_*). The variables are unset, not set
// empty, so code that tells an unset variable from an empty one sees
// neither; they are restored when t ends. Like t.Setenv, it cannot be used
// in parallel tests.
//
// [Main] has already cleared them for the whole package, with the
// integration tests' stack endpoint kept; ClearEnv is for a test that must
// not see that endpoint either, or that runs after a test which set a
// variable without t.Setenv.
func ClearEnv(t testing.TB) {
	t.Helper()
	for _, name := range strayNames(os.Environ(), false) {
		t.Setenv(name, "") // records the value to restore
		os.Unsetenv(name)
	}
}

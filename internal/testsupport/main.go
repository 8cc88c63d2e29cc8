package testsupport

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// Main is every package's TestMain:
//
//	func TestMain(m *testing.M) { testsupport.Main(m) }
//
// Before the tests run it unsets every SECAUDIT_ and OTEL_ variable except
// the tools/stack ones (see [ClearEnv]; in a build with the integration
// tag, the stack's OTLP endpoint and protocol are kept too), so no
// variable set on the machine changes a result; a test that needs one sets
// it with t.Setenv. After the tests pass it fails the run if goroutines
// are still running once they have had time to end (goleak, see
// [Goroutines.Check]).
func Main(m *testing.M) {
	for _, name := range strayNames(os.Environ(), Integration) {
		os.Unsetenv(name)
	}
	code := m.Run()
	if code == 0 {
		if err := findLeaks(mainIgnores()...); err != nil {
			fmt.Fprintf(os.Stderr, "testsupport: the tests passed but left goroutines running: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// mainIgnores are the goroutines Main does not count. In an integration
// build they are the idle keep-alive connections of any HTTP transport:
// the OTLP exporters keep theirs to the Collector in a package-wide
// transport that Shutdown does not close and nothing outside can
// (otlploghttp's ourTransport), and the stack's Collector stays up after
// the tests. Unit tests talk to httptest servers, whose Close ends the
// connections, so there every goroutine counts.
func mainIgnores() []goleak.Option {
	if !Integration {
		return nil
	}
	return []goleak.Option{
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
	}
}

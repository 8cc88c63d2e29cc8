package testsupport

import (
	"os"
	"testing"
)

// mainProbes are set before Main runs, as stray variables on a machine
// would be; TestMainClearsStrayVariables checks what Main left.
var mainProbes = map[string]bool{ // name: kept by Main
	"SECAUDIT_DELIVERY_STRICT_ROUTES": false,
	"SECAUDIT_NOT_A_SETTING":          false,
	"OTEL_SDK_DISABLED":               false,
	"OTEL_EXPORTER_OTLP_ENDPOINT":     Integration,
	"SECAUDIT_STACK_DIR":              true,
	"SECAUDIT_LOKI_URL":               true,
	"TESTSUPPORT_UNRELATED":           true,
}

func TestMain(m *testing.M) {
	for name := range mainProbes {
		os.Setenv(name, "probe")
	}
	Main(m)
}

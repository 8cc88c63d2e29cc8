package setup

import (
	"slices"
	"testing"
)

func TestWarnUnknownEnv(t *testing.T) {
	environ := []string{
		"SECAUDIT_SAMPLE_RATE=0.5",               // read: no warning
		"SECAUDIT_DELIVERY_STRICT_EVENT=authz.*", // misspelt
		"SECAUDIT_OTELCOL_LOGS_FILE=/tmp/logs",   // the stack's: no warning
		"SECAUDIT_FROM_THE_FUTURE=1",             // unknown, nothing close
		"OTEL_SERVICE_NAME=shop",
		"OTEL_LOG_EXPORTER=otlp",                   // misspelt OTel name secaudit reads
		"OTEL_TRACES_EXPORTER=none",                // another part of OTel's: no warning
		"OTEL_BSP_SCHEDULE_DELAY=100",              // likewise
		"OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION", // unknown to us, nothing close
	}
	var got []string
	warnUnknownEnv(environ, func(err error) { got = append(got, err.Error()) })
	want := []string{
		"setup: ignoring OTEL_LOG_EXPORTER: not a secaudit setting (did you mean OTEL_LOGS_EXPORTER?)",
		"setup: ignoring SECAUDIT_DELIVERY_STRICT_EVENT: not a secaudit setting (did you mean SECAUDIT_DELIVERY_STRICT_EVENTS?)",
		"setup: ignoring SECAUDIT_FROM_THE_FUTURE: not a secaudit setting",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("warnings\n%q\nwant\n%q", got, want)
	}
}

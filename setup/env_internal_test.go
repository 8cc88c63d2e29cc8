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
	}
	var got []string
	warnUnknownEnv(environ, func(err error) { got = append(got, err.Error()) })
	want := []string{
		"setup: ignoring SECAUDIT_DELIVERY_STRICT_EVENT: not a secaudit setting (did you mean SECAUDIT_DELIVERY_STRICT_EVENTS?)",
		"setup: ignoring SECAUDIT_FROM_THE_FUTURE: not a secaudit setting",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("warnings\n%q\nwant\n%q", got, want)
	}
}

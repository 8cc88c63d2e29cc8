package envconf

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"testing"
)

func withEnv(t *testing.T, env map[string]string) {
	t.Helper()
	old := lookup
	lookup = func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	t.Cleanup(func() { lookup = old })
}

func TestParsers(t *testing.T) {
	bools := func(n string) (any, bool, error) { return Bool(n) }
	ints := func(n string) (any, bool, error) { return Int(n, 1) }
	rates := func(n string) (any, bool, error) { return Rate(n) }
	codes := func(n string) (any, bool, error) { return StatusCodes(n) }
	regexps := func(n string) (any, bool, error) { return Regexps(n) }
	prefixes := func(n string) (any, bool, error) { return Prefixes(n) }
	durations := func(n string) (any, bool, error) { return Duration(n, 0, "a duration >= 0") }
	const name = "SECAUDIT_TEST_VAR"
	tests := []struct {
		name    string
		value   string
		parse   func(string) (any, bool, error)
		want    string // fmt.Sprint of the value, when valid
		wantSet bool
		wantErr string // the whole message, in setting.Invalid's format
	}{
		{"bool true", "TRUE", bools, "true", true, ""},
		{"bool off", "off", bools, "false", true, ""},
		{"bool bad", "maybe", bools, "", false, `secaudit: SECAUDIT_TEST_VAR="maybe": want true or false`},
		{"bool empty is unset", "  ", bools, "false", false, ""},
		{"int ok", "4096", ints, "4096", true, ""},
		{"int below min", "0", ints, "", false, `secaudit: SECAUDIT_TEST_VAR="0": want an integer >= 1`},
		{"int bad", "4k", ints, "", false, `secaudit: SECAUDIT_TEST_VAR="4k": want an integer >= 1`},
		{"rate ok", "0.25", rates, "0.25", true, ""},
		{"rate zero", "0", rates, "0", true, ""},
		{"rate too big", "1.5", rates, "", false, `secaudit: SECAUDIT_TEST_VAR="1.5": want a number from 0 to 1`},
		{"rate NaN", "NaN", rates, "", false, `secaudit: SECAUDIT_TEST_VAR="NaN": want a number from 0 to 1`},
		{"status ok", "301, 302", codes, "[301 302]", true, ""},
		{"status bad", "301,abc", codes, "", false, `secaudit: SECAUDIT_TEST_VAR="301,abc": want HTTP status codes from 100 to 599; "abc" is not one`},
		{"status range", "99", codes, "", false, `secaudit: SECAUDIT_TEST_VAR="99": want HTTP status codes from 100 to 599; "99" is not one`},
		{"regex ok", "^/healthz$,^/static/", regexps, "[^/healthz$ ^/static/]", true, ""},
		{"regex bad", "(", regexps, "", false, `secaudit: SECAUDIT_TEST_VAR="(": want RE2 regular expressions that each compile alone; pattern 1, "(": error parsing regexp: missing closing ): ` + "`(`"},
		{"regex empty pattern", "a,", regexps, "", false, `secaudit: SECAUDIT_TEST_VAR="a,": want no empty pattern; pattern 2 is empty (a doubled or trailing comma?)`},
		{"cidrs ok", "10.1.2.3/8, 192.0.2.1, 2001:db8::/32", prefixes, "[10.0.0.0/8 192.0.2.1/32 2001:db8::/32]", true, ""},
		{"cidrs bad", "10.0.0.0/8, 10.0.0.0/33", prefixes, "", false, `secaudit: SECAUDIT_TEST_VAR="10.0.0.0/8, 10.0.0.0/33": want CIDRs such as 10.0.0.0/8 or IP addresses; "10.0.0.0/33" is neither`},
		{"duration ok", "250ms", durations, "250ms", true, ""},
		{"duration zero", "0", durations, "0s", true, ""},
		{"duration below min", "-1s", durations, "", false, `secaudit: SECAUDIT_TEST_VAR="-1s": want a duration >= 0`},
		{"duration bad", "soon", durations, "", false, `secaudit: SECAUDIT_TEST_VAR="soon": want a duration >= 0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			withEnv(t, map[string]string{name: tt.value})
			got, set, err := tt.parse(name)
			if err != nil || tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %s", err, tt.wantErr)
				}
				return
			}
			if set != tt.wantSet {
				t.Fatalf("set = %v, want %v", set, tt.wantSet)
			}
			if s := fmt.Sprint(got); s != tt.want {
				t.Fatalf("value = %s, want %s", s, tt.want)
			}
		})
	}
}

func TestUnknown(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		want    []string
	}{
		{"none set", nil, nil},
		{"known and foreign names", []string{"SECAUDIT_SAMPLE_RATE=0.5", "SECAUDIT_DELIVERY_LINGER=0", "OTEL_SERVICE_NAME=shop", "PATH=/bin"}, nil},
		{"the stack's own variables", []string{"SECAUDIT_OTELCOL_LOGS_FILE=/tmp/x", "SECAUDIT_LOKI_HTTP_PORT=3100", "SECAUDIT_STACK_DIR=/tmp/run"}, nil},
		{"misspelt, sorted, once each", []string{"SECAUDIT_SAMPEL_RATE=0.5", "SECAUDIT_DELIVERY_STRICT_EVENT=authz.*", "SECAUDIT_SAMPEL_RATE=1", "SECAUDIT_=x"},
			[]string{"SECAUDIT_", "SECAUDIT_DELIVERY_STRICT_EVENT", "SECAUDIT_SAMPEL_RATE"}},
		{"no value", []string{"SECAUDIT_LOG_OK_RESPONSE"}, []string{"SECAUDIT_LOG_OK_RESPONSE"}},
		{"case matters", []string{"secaudit_sample_rate=1", "SECAUDIT_Sample_Rate=1"}, []string{"SECAUDIT_Sample_Rate"}},
		{"OTel names read", []string{"OTEL_LOGS_EXPORTER=otlp", "OTEL_SERVICE_NAME=shop", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT=http://c:4318", "OTEL_EXPORTER_OTLP_CLIENT_KEY=/k"}, nil},
		{"OTel names of other parts", []string{"OTEL_TRACES_EXPORTER=none", "OTEL_METRICS_EXPORTER=none", "OTEL_PROPAGATORS=tracecontext", "OTEL_BSP_SCHEDULE_DELAY=1", "OTEL_BLRP_MAX_QUEUE_SIZE=1", "OTEL_SDK_DISABLED=false", "OTEL_LOG_LEVEL=debug", "OTEL_EXPORTER_OTLP_PROTOCOL=grpc", "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL=grpc", "OTEL_GO_X_OBSERVABILITY=true", "OTEL_EXPORTER_OTLP_METRICS_HEADERS=a=b"}, nil},
		{"unknown OTel name far from ours", []string{"OTEL_PYTHON_LOG_CORRELATION=true", "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS=x", "OTEL_FOO=1"}, nil},
		{"OTel near-misses", []string{"OTEL_LOG_EXPORTER=otlp", "OTEL_SERVICE_NAMES=shop", "OTEL_EXPORTER_OTLP_LOG_ENDPOINT=x", "OTEL_RESOURCE_ATTRIBUTE=a=b", "OTEL_EXPORTER_OTLP_HEADER=a=b"},
			[]string{"OTEL_EXPORTER_OTLP_HEADER", "OTEL_EXPORTER_OTLP_LOG_ENDPOINT", "OTEL_LOG_EXPORTER", "OTEL_RESOURCE_ATTRIBUTE", "OTEL_SERVICE_NAMES"}},
		{"a near-miss without the OTEL_ prefix is someone else's", []string{"HOTEL_SERVICE_NAME=x", "OTEL-SERVICE_NAME=x"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Unknown(tt.environ); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("Unknown = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSuggest(t *testing.T) {
	tests := []struct{ give, want string }{
		{"SECAUDIT_SAMPEL_RATE", SampleRate},
		{"SECAUDIT_DELIVERY_STRICT_EVENT", DeliveryStrictEvents},
		{"SECAUDIT_LOG_OK_RESPONSE", LogOKResponses},
		{"SECAUDIT_SENSITIVE_KEY", SensitiveKeys},
		{"SECAUDIT_JSON_PATH", JSONLPath},
		{"SECAUDIT_SOMETHING_ELSE_ENTIRELY", ""},
		{"SECAUDIT_", ""},
		{"OTEL_LOG_EXPORTER", LogsExporter},
		{"OTEL_EXPORTER_OTLP_LOG_ENDPOINT", OTLPLogsEndpoint},
		{"OTEL_SERVICE_NAMES", ServiceName},
		{"OTEL_TRACES_EXPORTERS", "OTEL_TRACES_EXPORTER"},
		{"OTEL_SOMETHING_ELSE", ""},
	}
	for _, tt := range tests {
		if got := Suggest(tt.give); got != tt.want {
			t.Errorf("Suggest(%q) = %q, want %q", tt.give, got, tt.want)
		}
	}
}

// TestKnownCoversEveryName fails when a SECAUDIT_ or OTEL_ constant is added
// without being listed as read (it would then be reported as misspelt).
func TestKnownCoversEveryName(t *testing.T) {
	src, err := os.ReadFile("envconf.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`= "(SECAUDIT_[A-Z_]+)"`).FindAllStringSubmatch(string(src), -1) {
		if !slices.Contains(known, m[1]) {
			t.Errorf("%s is declared but not in known", m[1])
		}
	}
	for _, m := range regexp.MustCompile(`= "(OTEL_[A-Z_]+)"`).FindAllStringSubmatch(string(src), -1) {
		if !slices.Contains(otelRead, m[1]) {
			t.Errorf("%s is declared but not in otelRead", m[1])
		}
	}
}

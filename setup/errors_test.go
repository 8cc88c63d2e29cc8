package setup_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/secaudit/secaudit/setup"
)

// TestErrorsDoNotStutter: a start-up error names the setting once and
// repeats neither a package prefix nor the file's path.
func TestErrorsDoNotStutter(t *testing.T) {
	missing := t.TempDir() + "/no/such/dir/events.jsonl"
	tests := []struct {
		name string
		env  map[string]string
		opts []setup.Option
		want string // the whole message
	}{
		{
			name: "file cannot be opened",
			env:  map[string]string{"SECAUDIT_JSONL_PATH": missing},
			want: `secaudit: SECAUDIT_JSONL_PATH="` + missing + `": want a file it can append to (open: no such file or directory)`,
		},
		{
			name: "bad delivery setting",
			env:  map[string]string{"SECAUDIT_DELIVERY_QUEUE_SIZE": "0"},
			want: `secaudit: SECAUDIT_DELIVERY_QUEUE_SIZE="0": want an integer >= 1`,
		},
		{
			// An explicit zero is refused as exporter.WithRotation refuses
			// it; it once let the variable through.
			name: "zero rotation beside the variable",
			env:  map[string]string{"SECAUDIT_JSONL_MAX_BYTES": "100"},
			opts: []setup.Option{setup.WithJSONLPath(t.TempDir() + "/events.jsonl"), setup.WithJSONLRotation(0, 2)},
			want: `secaudit: WithJSONLRotation(0, 2): want maxBytes >= 1 and keep from 1 to 1000`,
		},
		{
			name: "too many files kept",
			env:  map[string]string{"SECAUDIT_JSONL_PATH": t.TempDir() + "/events.jsonl", "SECAUDIT_JSONL_MAX_BYTES": "100", "SECAUDIT_JSONL_MAX_FILES": "1001"},
			want: `secaudit: SECAUDIT_JSONL_MAX_FILES="1001": want an integer from 1 to 1000`,
		},
		{
			name: "unknown exporter",
			env:  map[string]string{"OTEL_LOGS_EXPORTER": "otlp,kafka"},
			want: `secaudit: OTEL_LOGS_EXPORTER="otlp,kafka": want jsonl, otlp or none, or a list of jsonl and otlp`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			p, err := setup.New(context.Background(), tt.opts...)
			if err == nil {
				_ = p.Shutdown(context.Background())
				t.Fatal("no error")
			}
			if err.Error() != tt.want {
				t.Errorf("error\n %q\nwant\n %q", err, tt.want)
			}
			for _, word := range []string{"secaudit:", "setup:", "delivery:", "exporter:", missing} {
				if strings.Count(err.Error(), word) > 1 {
					t.Errorf("%q appears more than once in %q", word, err)
				}
			}
		})
	}
}

// TestWithoutEnv: under setup.WithoutEnv, New and every constructor it calls
// ignore the environment, bad values included.
func TestWithoutEnv(t *testing.T) {
	clearEnv(t)
	for k, v := range map[string]string{
		"OTEL_LOGS_EXPORTER":           "kafka",
		"OTEL_SERVICE_NAME":            "from-env",
		"OTEL_RESOURCE_ATTRIBUTES":     "novalue",
		"OTEL_TRACES_EXPORTER":         "zipkin",
		"SECAUDIT_JSONL_MAX_BYTES":     "big",
		"SECAUDIT_JSONL_FSYNC":         "sometimes",
		"SECAUDIT_DELIVERY_QUEUE_SIZE": "0",
		"SECAUDIT_SAMPLE_RATE":         "5",
		"SECAUDIT_INCLUDE_USERNAMES":   "perhaps",
	} {
		t.Setenv(k, v)
	}
	var out bytes.Buffer
	p, err := setup.New(context.Background(), setup.WithoutEnv(), setup.WithJSONLWriter(&out), setup.WithTracing())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Shutdown(context.Background()) }()
	if got := p.Exporters(); len(got) != 1 || got[0] != setup.ExporterJSONL {
		t.Errorf("exporters %v, want the default", got)
	}
	if name, _ := p.Resource().Set().Value("service.name"); name.AsString() == "from-env" {
		t.Errorf("service.name %q came from the environment", name.AsString())
	}
	if p.Auditor().UsernamesEnabled() {
		t.Error("user names enabled")
	}
}

package setup_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/processor"
	"github.com/secaudit/secaudit/setup"
)

// TestNewFailureLeaksNoGoroutine: when New fails after it has started a
// delivery processor, it stops it again; a service that retries New with a
// bad setting does not gather goroutines.
func TestNewFailureLeaksNoGoroutine(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		opts []setup.Option
	}{
		{name: "processor option", opts: []setup.Option{setup.WithProcessorOptions(processor.WithSampleRate(2))}},
		{name: "processor env", env: map[string]string{"SECAUDIT_SENSITIVE_VALUE_PATTERNS": "("}},
		{name: "two exporters", env: map[string]string{"SECAUDIT_SAMPLE_RATE": "2", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"},
			opts: []setup.Option{setup.WithExporters("jsonl", "otlp")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			testsupport.CheckGoroutines(t)
			p, err := setup.New(context.Background(), append([]setup.Option{setup.WithJSONLWriter(&bytes.Buffer{})}, tt.opts...)...)
			if err == nil {
				_ = p.Shutdown(context.Background())
				t.Fatal("New succeeded; the case needs a setting that fails after delivery starts")
			}
		})
	}
}

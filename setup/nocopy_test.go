package setup_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/delivery"
	"github.com/secaudit/secaudit/detect"
	"github.com/secaudit/secaudit/setup"
)

// quietRule is a custom detection rule that never fires. A custom rule is
// given the record itself, which it could change.
type quietRule struct{}

func (quietRule) Name() string { return "quiet" }
func (quietRule) Evaluate(context.Context, *sdklog.Record, detect.State, time.Time) (detect.Alert, bool) {
	return detect.Alert{}, false
}

// passProcessor is a user processor (WithProcessor), which may change the
// records it is given.
type passProcessor struct{}

func (passProcessor) OnEmit(context.Context, *sdklog.Record) error           { return nil }
func (passProcessor) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (passProcessor) Shutdown(context.Context) error                         { return nil }
func (passProcessor) ForceFlush(context.Context) error                       { return nil }

// TestLastDeliveryProcessorKeepsRecords: New turns delivery.WithoutCopy on
// for the last exporting processor exactly when nothing after it changes
// records: not for a processor another one follows (JSONL then OTLP: the
// OTLP processor must see the record unchanged), nor when a user processor
// follows in the fan-out or a custom detection rule (which is given the
// record) reads records after it; and it refuses WithoutCopy among the
// delivery options for a processor that must copy.
func TestLastDeliveryProcessorKeepsRecords(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	both := []setup.Option{
		setup.WithExporters(setup.ExporterJSONL, setup.ExporterOTLP),
		setup.WithOTLPOptions(otlploghttp.WithEndpointURL(srv.URL + "/v1/logs")),
	}
	tests := []struct {
		name    string
		opts    []setup.Option
		copies  []bool // by exporter, in order
		wantErr string
	}{
		{name: "JSONL", opts: []setup.Option{setup.WithExporters(setup.ExporterJSONL)}, copies: []bool{false}},
		{name: "JSONL and OTLP", opts: both, copies: []bool{true, false}},
		{name: "detection off", opts: append(slices.Clip(both), setup.WithDetectOptions(detect.WithEnabled(false))),
			copies: []bool{true, false}},
		{name: "a user processor follows", opts: append(slices.Clip(both), setup.WithProcessor(passProcessor{})),
			copies: []bool{true, true}},
		{name: "a custom rule", opts: []setup.Option{setup.WithExporters(setup.ExporterJSONL),
			setup.WithDetectOptions(detect.WithCustomRule(quietRule{}))}, copies: []bool{true}},
		{name: "a custom rule, detection off", opts: []setup.Option{setup.WithExporters(setup.ExporterJSONL),
			setup.WithDetectOptions(detect.WithCustomRule(quietRule{}), detect.WithEnabled(false))}, copies: []bool{false}},
		{name: "WithoutCopy given, one exporter", opts: []setup.Option{setup.WithExporters(setup.ExporterJSONL),
			setup.WithDeliveryOptions(delivery.WithoutCopy())}, copies: []bool{false}},
		{name: "WithoutCopy given, two exporters", opts: append(slices.Clip(both), setup.WithDeliveryOptions(delivery.WithoutCopy())),
			wantErr: "secaudit: WithDeliveryOptions(delivery.WithoutCopy()): want no delivery.WithoutCopy"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := append([]setup.Option{setup.WithoutEnv(), setup.WithJSONLWriter(io.Discard)}, tc.opts...)
			p, err := setup.New(ctx, opts...)
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("New: %v, want %q…", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := p.Shutdown(ctx); err != nil {
					t.Error(err)
				}
			}()
			var got []bool
			for _, d := range p.Delivery() {
				got = append(got, d.CopiesRecords())
			}
			if !slices.Equal(got, tc.copies) {
				t.Errorf("CopiesRecords by exporter = %v, want %v", got, tc.copies)
			}
		})
	}
}

package setup_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
	"github.com/secaudit/secaudit/setup"
)

// nopProcessor takes every record and does nothing with it.
type nopProcessor struct{}

func (nopProcessor) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (nopProcessor) OnEmit(context.Context, *sdklog.Record) error           { return nil }
func (nopProcessor) Shutdown(context.Context) error                         { return nil }
func (nopProcessor) ForceFlush(context.Context) error                       { return nil }

// emitPipeline is a pipeline whose records go through the processor chain
// to a processor that keeps nothing (no exporter goroutine allocates while
// allocations are counted).
func emitPipeline(tb testing.TB) *setup.Pipeline {
	tb.Helper()
	p, err := setup.New(context.Background(), setup.WithExporters(setup.ExporterNone), setup.WithProcessor(nopProcessor{}))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	return p
}

func emitRecord() log.Record {
	var r log.Record
	now := time.Unix(1700000000, 0)
	r.SetTimestamp(now)
	r.SetObservedTimestamp(now)
	r.SetEventName(semconv.EventLoginFailed)
	r.SetSeverity(semconv.SeverityWarning)
	r.SetBody(attribute.StringValue(semconv.EventLoginFailed))
	r.AddAttributes(
		semconv.AuditSchemaVersionKey.String(semconv.SchemaVersion),
		semconv.AuditOutcomeKey.String(semconv.OutcomeFailure),
		semconv.ClientAddressKey.String("203.0.113.7"),
	)
	return r
}

// TestLoggerEmitAllocs: the pipeline's logger (which counts the records
// emitted after Shutdown) allocates no more per record than the SDK's
// logger behind it, and Enabled allocates nothing.
func TestLoggerEmitAllocs(t *testing.T) {
	if testsupport.Race {
		t.Skip("allocation counts differ under -race")
	}
	clearEnv(t)
	p := emitPipeline(t)
	ctx := context.Background()
	r := emitRecord()
	allocs := func(l log.Logger) float64 {
		return testing.AllocsPerRun(200, func() { l.Emit(ctx, r) })
	}
	wrapped, sdk := allocs(p.LoggerProvider().Logger("test")), allocs(setup.SDKLogger(p, "test"))
	if wrapped > sdk {
		t.Errorf("the pipeline's logger allocates %v per record, the SDK's %v", wrapped, sdk)
	}
	l := p.LoggerProvider().Logger("test")
	if n := testing.AllocsPerRun(200, func() { l.Enabled(ctx, log.EnabledParameters{Severity: semconv.SeverityWarning}) }); n != 0 {
		t.Errorf("Enabled allocates %v", n)
	}
}

// BenchmarkLoggerEmit compares the pipeline's logger with the SDK's
// logger behind it, on one goroutine and on every core.
func BenchmarkLoggerEmit(b *testing.B) {
	clearEnv(b)
	p := emitPipeline(b)
	ctx := context.Background()
	for _, bb := range []struct {
		name string
		l    log.Logger
	}{
		{"sdk", setup.SDKLogger(p, "bench")},
		{"pipeline", p.LoggerProvider().Logger("bench")},
	} {
		b.Run(bb.name, func(b *testing.B) {
			r := emitRecord()
			b.ReportAllocs()
			for b.Loop() {
				bb.l.Emit(ctx, r)
			}
		})
		b.Run(bb.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				r := emitRecord()
				for pb.Next() {
					bb.l.Emit(ctx, r)
				}
			})
		})
	}
}

package setup_test

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutlog"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/semconv"
	"github.com/secaudit/secaudit/setup"
)

// countExports counts the records that reach the exporter it wraps.
type countExports struct {
	sdklog.Exporter
	n atomic.Uint64
}

func (c *countExports) Export(ctx context.Context, recs []sdklog.Record) error {
	c.n.Add(uint64(len(recs)))
	return c.Exporter.Export(ctx, recs)
}

// responseAttrs are the 14 attributes of the middleware's
// http.response.success event, the request's values varying by i.
func responseAttrs(i int) []attribute.KeyValue {
	return []attribute.KeyValue{
		semconv.AuditSchemaVersionKey.String(semconv.SchemaVersion),
		semconv.AuditActionKey.String(semconv.ActionResponse),
		semconv.AuditOutcomeKey.String(semconv.OutcomeSuccess),
		semconv.UserIDKey.String("42"),
		semconv.AuditRequestIDKey.String(fmt.Sprintf("%032x", i)),
		semconv.ClientAddressKey.String("203.0.113.7"),
		semconv.NetworkPeerAddressKey.String("203.0.113.7"),
		semconv.HTTPRequestMethodKey.String("GET"),
		semconv.URLPathKey.String("/api/v1/items/42"),
		semconv.HTTPRouteKey.String("/api/v1/items/{id}"),
		semconv.HTTPResponseStatusCodeKey.Int(200),
		semconv.URLFullKey.String("http://127.0.0.1:8080/api/v1/items/42"),
		semconv.AuditDurationKey.Int64(int64(17000 + i)),
		semconv.UserAgentOriginalKey.String("secaudit-load/1.0"),
	}
}

// BenchmarkPeerOTel sets, in process, one audited event with the
// middleware's 14 attributes through stock OpenTelemetry (the SDK's batch
// processor and the upstream stdoutlog exporter, to io.Discard, not
// flushed by hand) beside the same event through secaudit's default
// pipeline (Auditor, processor chain with scrubbing, detection, the
// delivery processor and the JSONL exporter, to io.Discard). exported/op
// below 1 is records lost: the SDK's batch processor drops the oldest
// without a word when its queue is full; secaudit's delivery counts every
// loss (lost/op).
func BenchmarkPeerOTel(b *testing.B) {
	ctx := context.Background()
	attrs := make([][]attribute.KeyValue, 256)
	for i := range attrs {
		attrs[i] = responseAttrs(i)
	}
	b.Run("otel-stock", func(b *testing.B) {
		out, err := stdoutlog.New(stdoutlog.WithWriter(io.Discard))
		if err != nil {
			b.Fatal(err)
		}
		exp := &countExports{Exporter: out}
		lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewBatchProcessor(exp)))
		logger := lp.Logger("bench")
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			var r log.Record
			now := time.Now()
			r.SetTimestamp(now)
			r.SetObservedTimestamp(now)
			r.SetEventName(semconv.EventHTTPResponseSuccess)
			r.SetSeverity(semconv.SeverityInfo)
			r.SetSeverityText(semconv.SeverityTextInfo)
			r.SetBody(attribute.StringValue(semconv.BodyHTTPResponse))
			r.AddAttributes(attrs[i%len(attrs)]...)
			logger.Emit(ctx, r)
			i++
		}
		b.StopTimer()
		if err := lp.Shutdown(ctx); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(exp.n.Load())/float64(b.N), "exported/op")
	})
	b.Run("secaudit", func(b *testing.B) {
		p, err := setup.New(ctx, setup.WithoutEnv(), setup.WithJSONLWriter(io.Discard))
		if err != nil {
			b.Fatal(err)
		}
		a := p.Auditor()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			_ = a.Emit(ctx, secaudit.Event{
				Name: semconv.EventHTTPResponseSuccess, Severity: semconv.SeverityInfo, Body: semconv.BodyHTTPResponse,
				Action: semconv.ActionResponse, Outcome: semconv.OutcomeSuccess, Attributes: attrs[i%len(attrs)][3:],
			})
			i++
		}
		b.StopTimer()
		if err := p.Shutdown(ctx); err != nil {
			b.Fatal(err)
		}
		var exported, dropped uint64
		for _, dp := range p.Delivery() {
			st := dp.Stats()
			exported, dropped = exported+st.Exported, dropped+st.Dropped
		}
		b.ReportMetric(float64(exported)/float64(b.N), "exported/op")
		b.ReportMetric(float64(dropped)/float64(b.N), "lost/op")
	})
}

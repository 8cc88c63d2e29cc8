package exporter_test

import (
	"context"
	"io"
	"runtime"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutlog"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/log/logtest"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/secaudit/secaudit/exporter"
	"github.com/secaudit/secaudit/semconv"
)

// benchBatchSize records per Export call.
const benchBatchSize = 32

// BenchmarkExport exports the same batch of realistic client_error records
// (12 attributes, service resource, trace ids) with the JSONL exporter and
// with the upstream stdoutlog exporter, both to io.Discard, and reports the
// cost per record. JSONL-load_response exports batches of the record
// tools/load's secaudit mode writes (see loadResponseRecord), as the
// delivery worker does: the encoder's cost per record in the pipeline.
func BenchmarkExport(b *testing.B) {
	jsonl, err := exporter.NewJSONL(exporter.WithWriter(io.Discard))
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := stdoutlog.New(stdoutlog.WithWriter(io.Discard))
	if err != nil {
		b.Fatal(err)
	}
	records := batchOf(benchBatchSize)
	load := make([]sdklog.Record, benchBatchSize)
	for i, rec := 0, loadResponseRecord(); i < len(load); i++ {
		load[i] = rec // one provider's records share resource and scope
	}
	for _, bc := range []struct {
		name    string
		exp     sdklog.Exporter
		records []sdklog.Record
	}{
		{"JSONL", jsonl, records},
		{"JSONL-load_response", jsonl, load},
		{"stdoutlog", stdout, records},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			var before, after runtime.MemStats
			iterations := 0
			for b.Loop() {
				if iterations == 0 {
					// After b.Loop's own set-up, which allocates.
					runtime.ReadMemStats(&before)
				}
				if err := bc.exp.Export(ctx, bc.records); err != nil {
					b.Fatal(err)
				}
				iterations++
			}
			runtime.ReadMemStats(&after)
			perRecord := float64(iterations * len(bc.records))
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/perRecord, "ns/record")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/perRecord, "allocs/record")
		})
	}
}

// BenchmarkExportParallel: concurrent Exports of single records contend on
// the exporter's lock.
func BenchmarkExportParallel(b *testing.B) {
	jsonl, err := exporter.NewJSONL(exporter.WithWriter(io.Discard))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		records := batchOf(1)
		ctx := context.Background()
		for pb.Next() {
			if err := jsonl.Export(ctx, records); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// loadResponseRecord is the record tools/load's secaudit mode writes for
// each request (an http.response.success with the middleware's 13
// attributes, service.name "load", secaudit's scope, no trace): the
// encoder's term of the floor that issue #20's ratio divides by.
func loadResponseRecord() sdklog.Record {
	return logtest.RecordFactory{
		EventName:         semconv.EventHTTPResponseSuccess,
		Timestamp:         fixedTime,
		ObservedTimestamp: fixedTime,
		Severity:          semconv.SeverityInfo,
		SeverityText:      semconv.SeverityTextInfo,
		Body:              attribute.StringValue(semconv.BodyHTTPResponse),
		Attributes: []attribute.KeyValue{
			semconv.AuditSchemaVersionKey.String(semconv.SchemaVersion),
			semconv.AuditActionKey.String(semconv.ActionResponse),
			semconv.AuditOutcomeKey.String(semconv.OutcomeSuccess),
			semconv.AuditRequestIDKey.String("32580eb61b230adbdc88ccd70f6065da"),
			semconv.ClientAddressKey.String("127.0.0.1"),
			semconv.NetworkPeerAddressKey.String("127.0.0.1"),
			semconv.HTTPRequestMethodKey.String("GET"),
			semconv.URLPathKey.String("/api/v1/items/42"),
			semconv.HTTPResponseStatusCodeKey.Int(200),
			semconv.URLFullKey.String("http://127.0.0.1:37657/api/v1/items/42"),
			semconv.AuditDurationKey.Int64(18925),
			semconv.UserAgentOriginalKey.String("secaudit-load/1.0"),
		},
		Resource:             resource.NewSchemaless(semconv.ServiceNameKey.String("load")),
		InstrumentationScope: auditScope,
	}.NewRecord()
}

// BenchmarkAppendRecord encodes one record into a reused buffer.
func BenchmarkAppendRecord(b *testing.B) {
	cases := map[string]sdklog.Record{"client_error": clientErrorFactory().NewRecord(), "load_response": loadResponseRecord()}
	for _, tc := range goldenCases() {
		if tc.name == "nested_values" || tc.name == "oversize" {
			cases[tc.name] = tc.record(nil)
		}
	}
	for name, rec := range cases {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 1<<19)
			for b.Loop() {
				buf = exporter.AppendRecord(buf[:0], &rec, 0)
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}

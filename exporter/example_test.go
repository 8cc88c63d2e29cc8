package exporter_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/log/logtest"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/secaudit/secaudit/exporter"
	"github.com/secaudit/secaudit/semconv"
)

// A LoggerProvider writing every audit record synchronously as one JSONL
// line to stdout. Production code would rather use WithFile and a batch
// processor, and let the Auditor build the records.
func Example() {
	exp, err := exporter.NewJSONL(exporter.WithWriter(os.Stdout))
	if err != nil {
		fmt.Println(err)
		return
	}
	provider := sdklog.NewLoggerProvider(
		sdklog.WithResource(resource.NewSchemaless(semconv.ServiceNameKey.String("shop"))),
		sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)),
	)
	defer func() { _ = provider.Shutdown(context.Background()) }()

	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) // fixed for the example's output
	var rec log.Record
	rec.SetEventName(semconv.EventLoginFailed)
	rec.SetTimestamp(at)
	rec.SetObservedTimestamp(at)
	rec.SetSeverity(semconv.SeverityWarning)
	rec.SetBody(attribute.StringValue(semconv.EventLoginFailed))
	rec.AddAttributes(
		semconv.AuditSchemaVersionKey.String(semconv.SchemaVersion),
		semconv.AuditOutcomeKey.String(semconv.OutcomeFailure),
		semconv.ClientAddressKey.String("203.0.113.7"),
	)
	provider.Logger("example", log.WithInstrumentationVersion("1.0.0")).Emit(context.Background(), rec)
	// Output:
	// {"timestamp":1767323045000000000,"observed_timestamp":1767323045000000000,"severity_text":"WARNING","severity_number":13,"body":"auth.login.failed","resource":{"service.name":"shop"},"instrumentation_scope":{"name":"example","version":"1.0.0"},"attributes":{"event_type":"auth.login.failed","schema_version":"1.0","audit.schema_version":"1.0","audit.outcome":"failure","client.address":"203.0.113.7"},"event_name":"auth.login.failed"}
}

// AppendRecord encodes one record into a caller's buffer, for writers
// other than JSONL. The buffer can be reused across records.
func ExampleAppendRecord() {
	rec := logtest.RecordFactory{ // in production, records come from the SDK
		EventName:         semconv.EventRateLimited,
		Timestamp:         time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		ObservedTimestamp: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Severity:          semconv.SeverityWarning,
		Body:              attribute.StringValue(semconv.EventRateLimited),
		Attributes: []attribute.KeyValue{
			semconv.ClientAddressKey.String("203.0.113.7"),
			attribute.Float64("audit.test.ratio", math.NaN()), // not representable in JSON
		},
	}.NewRecord()

	buf := exporter.AppendRecord(nil, &rec, exporter.DefaultMaxRecordBytes)
	fmt.Print(string(buf))
	// Output:
	// {"timestamp":1767323045000000000,"observed_timestamp":1767323045000000000,"severity_text":"ERROR","severity_number":17,"body":"audit.logging.malformed_record","resource":{},"instrumentation_scope":{"name":""},"attributes":{"event_type":"audit.logging.malformed_record","schema_version":"1.0"},"event_name":"audit.logging.malformed_record"}
}

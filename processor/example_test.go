package processor_test

import (
	"context"
	"fmt"
	"log"

	"go.opentelemetry.io/otel/attribute"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/processor"
)

// printer stands in for the exporting processor (a batch or simple
// processor in front of an exporter).
type printer struct{}

func (printer) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (printer) Shutdown(context.Context) error                         { return nil }
func (printer) ForceFlush(context.Context) error                       { return nil }
func (printer) OnEmit(_ context.Context, r *sdklog.Record) error {
	fmt.Println(r.Body().AsString())
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		fmt.Printf("  %s=%s\n", kv.Key, kv.Value.String())
		return true
	})
	return nil
}

func ExampleNewChain() {
	chain, err := processor.NewChain(printer{},
		processor.WithoutEnv(), // a deterministic example; by default SECAUDIT_* apply
		processor.WithIgnorePaths(`^/healthz$`),
	)
	if err != nil {
		log.Fatal(err)
	}
	provider := sdklog.NewLoggerProvider(
		sdklog.WithProcessor(chain),
		sdklog.WithAllowKeyDuplication(),
		sdklog.WithAttributeCountLimit(-1),
	)
	defer provider.Shutdown(context.Background())

	var rec otellog.Record
	rec.SetBody(attribute.StringValue("dial postgres://app:s3cret@db/shop failed"))
	rec.AddAttributes(
		attribute.String("http.request.header.authorization", "Bearer abc123"),
		attribute.String("session.id", "9f86d081884c7d659a2feaa0c55ad015"),
		attribute.String("order.id", "4111111111111112"), // fails Luhn: kept
	)
	provider.Logger("example").Emit(context.Background(), rec)
	fmt.Println(chain.Stats().Redacted)
	// Output:
	// dial postgres://app:[REDACTED]@db/shop failed
	//   http.request.header.authorization=[REDACTED]
	//   session.id=9f86d081884c7d659a2feaa0c55ad015
	//   order.id=4111111111111112
	//   audit.redacted_count=2
	// 2
}

func ExampleScrubber() {
	scrubber, err := processor.NewScrubber(
		processor.WithoutEnv(),
		processor.WithSensitiveKeyAllowlist("token_expiry"),
		processor.WithoutDetectors(processor.DetectCardNumber),
	)
	if err != nil {
		log.Fatal(err)
	}
	provider := sdklog.NewLoggerProvider(
		sdklog.WithProcessor(scrubber), // before the exporting processor
		sdklog.WithProcessor(printer{}),
	)
	var rec otellog.Record
	rec.SetBody(attribute.StringValue("login"))
	rec.AddAttributes(
		attribute.String("token_expiry", "2026-01-01"),
		attribute.String("refresh_token", "r-123"),
		attribute.String("note", "password=hunter2 retry=1"),
	)
	provider.Logger("example").Emit(context.Background(), rec)
	// Output:
	// login
	//   token_expiry=2026-01-01
	//   refresh_token=[REDACTED]
	//   note=password=[REDACTED] retry=1
	//   audit.redacted_count=2
}

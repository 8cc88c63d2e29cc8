package main

import (
	"context"
	"os"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	auditconv "github.com/secaudit/secaudit/semconv"
)

// newTracerProvider returns a real TracerProvider that samples every span.
// Spans are exported over OTLP when OTEL_TRACES_EXPORTER=otlp or logsOTLP is
// set (the logs go to a Collector, so the traces should too); otherwise they
// are recorded and dropped, so events still carry valid trace ids.
func newTracerProvider(ctx context.Context, logsOTLP bool) (*sdktrace.TracerProvider, error) {
	opts := []sdktrace.TracerProviderOption{sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample()))}
	res, err := resource.New(ctx,
		resource.WithAttributes(auditconv.ServiceNameKey.String("secaudit-demo")),
		resource.WithFromEnv())
	if err == nil {
		opts = append(opts, sdktrace.WithResource(res))
	}
	want := strings.TrimSpace(os.Getenv("OTEL_TRACES_EXPORTER"))
	if want == "otlp" || (want == "" && logsOTLP) {
		exp, err := otlptracehttp.New(ctx, otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
		if err != nil {
			return nil, err
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	return sdktrace.NewTracerProvider(opts...), nil
}

package main

import (
	"context"
	"os"
	"slices"
	"strings"

	"github.com/secaudit/secaudit/setup"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// newTracerProvider returns a real TracerProvider that samples every span,
// with the audit pipeline's resource, so that spans and events name the
// same service. Spans are exported over OTLP when OTEL_TRACES_EXPORTER=otlp
// or the pipeline exports over OTLP (the logs go to a Collector, so the
// traces should too); otherwise they are recorded and dropped, so events
// still carry valid trace ids.
func newTracerProvider(ctx context.Context, pipeline *setup.Pipeline) (*sdktrace.TracerProvider, error) {
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())),
		sdktrace.WithResource(pipeline.Resource()),
	}
	logsOTLP := slices.Contains(pipeline.Exporters(), setup.ExporterOTLP)
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

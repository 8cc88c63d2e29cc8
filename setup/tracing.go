package setup

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/secaudit/secaudit/internal/envconf"
	"github.com/secaudit/secaudit/internal/setting"
)

// WithTracing makes [New] build a TracerProvider for a service that has no
// tracing of its own, and install it, with the W3C trace-context and
// baggage propagators, as OpenTelemetry's globals (the ones otelhttp uses
// by default). Requests then get a server span, an incoming traceparent is
// continued, and every audit event carries trace_id and span_id.
//
// The provider has the pipeline's resource, so spans and events name the
// same service. Spans go where the logs go: over OTLP (the
// OTEL_EXPORTER_OTLP_[TRACES_]* settings) when the logs are exported over
// OTLP, and nowhere otherwise (recorded, so that events carry valid ids, and
// dropped); OTEL_TRACES_EXPORTER=otlp or none overrides that choice, and
// OTEL_TRACES_SAMPLER the sampler (parent-based, always on by default).
// [Pipeline.Shutdown] flushes and stops it after the logs.
//
// A service that has its own TracerProvider does not need this option:
// give that provider [Pipeline.Resource] and set the propagator yourself.
func WithTracing() Option {
	return optionFunc(func(c config) config {
		c.tracing = true
		return c
	})
}

// TracerProvider returns the provider [WithTracing] built, or nil without
// that option.
func (p *Pipeline) TracerProvider() *sdktrace.TracerProvider {
	if p == nil {
		return nil
	}
	return p.tracer
}

// OpenTelemetry's names that WithTracing reads.
const (
	envTracesExporter        = "OTEL_TRACES_EXPORTER"
	envOTLPTracesCompression = "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION"
)

// tracesExporter resolves where spans go: "otlp" or "none".
func (c *config) tracesExporter(logExporters []string) (string, error) {
	v, ok := envconf.String(envTracesExporter)
	if !ok || c.noEnv {
		if slices.Contains(logExporters, ExporterOTLP) {
			return ExporterOTLP, nil
		}
		return ExporterNone, nil
	}
	switch v = strings.ToLower(v); v {
	case ExporterOTLP, ExporterNone:
		return v, nil
	}
	return "", setting.Invalid(envTracesExporter, v, "otlp or none")
}

// newTracing builds the TracerProvider of [WithTracing] and installs it and
// the W3C propagators as the globals.
// Under WithoutEnv, gzip is used whatever the OTLP compression variables say.
func newTracing(ctx context.Context, res *resource.Resource, exporter string, noEnv bool) (*sdktrace.TracerProvider, error) {
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if exporter == ExporterOTLP {
		var eopts []otlptracehttp.Option
		_, traces := envconf.String(envOTLPTracesCompression)
		_, all := envconf.String(envconf.OTLPCompression)
		if (!traces && !all) || noEnv {
			// gzip by default, as for the logs.
			eopts = append(eopts, otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
		}
		exp, err := otlptracehttp.New(ctx, eopts...)
		if err != nil {
			return nil, fmt.Errorf("setup: otlp trace exporter: %w", err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return tp, nil
}

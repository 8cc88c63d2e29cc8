package setup

import (
	"slices"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/log/embedded"
	"go.opentelemetry.io/otel/log/noop"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/processor"
)

// LoggerProvider is a pipeline's [log.LoggerProvider]: the SDK provider
// whose records pass through the processor chain, with one more rule. A
// logger's instrumentation scope attributes
// ([log.WithInstrumentationAttributes]) travel with every record it emits
// (the OTLP exporter sends them; the JSONL envelope names the scope only),
// and no processor can change them, so they are scrubbed here, by the
// chain's rules, when the logger is created.
//
// A nil *LoggerProvider returns no-op loggers.
type LoggerProvider struct {
	embedded.LoggerProvider

	sdk   *sdklog.LoggerProvider
	scrub *processor.Scrubber // nil: nothing to scrub with (no exporter)
}

var _ log.LoggerProvider = (*LoggerProvider)(nil)

// Logger returns the SDK provider's logger for name and opts, the scope
// attributes among opts scrubbed.
func (p *LoggerProvider) Logger(name string, opts ...log.LoggerOption) log.Logger {
	if p == nil || p.sdk == nil {
		return noop.Logger{}
	}
	if set := log.NewLoggerConfig(opts...).InstrumentationAttributes(); set.Len() > 0 {
		if scrubbed, n := p.scrub.ScrubAttributes(set.ToSlice()); n > 0 {
			// A later attribute set wins key by key, and the scrubbed
			// set holds every key of the original one.
			opts = append(slices.Clip(opts), log.WithInstrumentationAttributeSet(attribute.NewSet(scrubbed...)))
		}
	}
	return p.sdk.Logger(name, opts...)
}

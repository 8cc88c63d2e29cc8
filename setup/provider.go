package setup

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/log/embedded"
	"go.opentelemetry.io/otel/log/noop"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/delivery"
	"github.com/secaudit/secaudit/processor"
)

// LoggerProvider is a pipeline's [log.LoggerProvider]: the SDK provider
// whose records pass through the processor chain, with two more rules.
//
// A logger's instrumentation scope attributes
// ([log.WithInstrumentationAttributes]) travel with every record it emits
// (the OTLP exporter sends them; the JSONL envelope names the scope only),
// and no processor can change them, so they are scrubbed here, by the
// chain's rules, when the logger is created.
//
// No record is lost uncounted at Shutdown. Once [Pipeline.Shutdown] has
// begun, every record emitted through the provider's loggers is counted by
// each delivery processor as emitted and dropped (reason closed, see
// [delivery.Processor.DropClosed]) instead of vanishing in the shut-down
// SDK provider, and the loggers' Enabled reports true, so that an emitter
// builds the record and counts it like the pipeline does. Records emitted
// before reach the processors: Shutdown waits for them.
//
// A nil *LoggerProvider returns no-op loggers.
type LoggerProvider struct {
	embedded.LoggerProvider

	sdk   *sdklog.LoggerProvider
	scrub *processor.Scrubber // nil: nothing to scrub with (no exporter)
	// sinks count the records emitted after closed is set.
	sinks []*delivery.Processor

	// state counts the Emit calls in progress, plus closedBit once
	// Shutdown began; leftover counts those of them in progress when it
	// began that have not ended yet, and drained is closed when none is
	// left.
	state    atomic.Int64
	leftover atomic.Int64
	drained  chan struct{}
}

// closedBit marks a closed provider in LoggerProvider.state.
const closedBit = 1 << 62

var _ log.LoggerProvider = (*LoggerProvider)(nil)

func newLoggerProvider(sdk *sdklog.LoggerProvider, scrub *processor.Scrubber, sinks []*delivery.Processor) *LoggerProvider {
	return &LoggerProvider{sdk: sdk, scrub: scrub, sinks: sinks, drained: make(chan struct{})}
}

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
	return &logger{sdk: p.sdk.Logger(name, opts...), p: p}
}

// shutdown stops the provider: from now on every record emitted is counted
// as dropped (closed) by the delivery processors; the records being
// emitted reach the processors before the SDK provider, and with it the
// processors, shut down. If ctx ends while emits are still in progress,
// the delivery processors are shut down at once (counting the records
// they hold as dropped, reason shutdown, and the late ones as closed) and
// ctx's error is returned; a later call finishes the job.
func (p *LoggerProvider) shutdown(ctx context.Context) error {
	// One atomic step sets closedBit and reads the Emit calls in progress:
	// each of them counts itself out of leftover when it ends, and every
	// later one sees closedBit.
	if old := p.state.Or(closedBit); old&closedBit == 0 {
		if p.leftover.Add(old) == 0 {
			close(p.drained)
		}
	}
	select {
	case <-p.drained:
	default:
		select {
		case <-p.drained:
		case <-ctx.Done():
			err := ctx.Err()
			for _, d := range p.sinks {
				err = errors.Join(err, d.Shutdown(ctx))
			}
			return err
		}
	}
	return p.sdk.Shutdown(ctx)
}

// closed reports whether Shutdown began.
func (p *LoggerProvider) closed() bool { return p.state.Load()&closedBit != 0 }

// exit ends an Emit call that began before Shutdown.
func (p *LoggerProvider) exit() {
	// leftover can reach 0 only after shutdown added the calls in
	// progress: before, the calls that end take it below 0.
	if p.state.Add(-1)&closedBit != 0 && p.leftover.Add(-1) == 0 {
		close(p.drained)
	}
}

// dropClosed counts a record emitted after Shutdown began.
func (p *LoggerProvider) dropClosed(eventName string) {
	for _, d := range p.sinks {
		d.DropClosed(eventName)
	}
}

// logger is an SDK logger that counts what it is given after its
// provider's Shutdown began.
type logger struct {
	embedded.Logger

	sdk log.Logger
	p   *LoggerProvider
}

var _ log.Logger = (*logger)(nil)

// Emit hands r to the SDK logger, or counts it as dropped (closed) once
// Shutdown has begun.
func (l *logger) Emit(ctx context.Context, r log.Record) {
	p := l.p
	if p.state.Add(1)&closedBit != 0 {
		p.state.Add(-1)
		p.dropClosed(r.EventName())
		return
	}
	defer p.exit()
	l.sdk.Emit(ctx, r)
}

// Enabled asks the SDK logger, and reports true once Shutdown has begun
// (when some delivery processor counts the record).
func (l *logger) Enabled(ctx context.Context, param log.EnabledParameters) bool {
	p := l.p
	if p.closed() {
		return len(p.sinks) > 0
	}
	// The SDK logger answers false once its provider stopped, which
	// happens only after closedBit is set: look again.
	return l.sdk.Enabled(ctx, param) || (len(p.sinks) > 0 && p.closed())
}

package delivery

import (
	"context"
	"time"

	"github.com/secaudit/secaudit/semconv"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// ScopeName is the instrumentation scope of the processor's metrics.
const ScopeName = "github.com/secaudit/secaudit/delivery"

// telemetry reports the processor's counters through the Metrics API.
// Counters are observed from Stats in a callback, so the record path pays
// nothing for them; only the export duration is recorded as it happens.
type telemetry struct {
	duration metric.Float64Histogram
	ok, fail metric.RecordOption
}

func newTelemetry(p *Processor) (*telemetry, error) {
	m := p.cfg.meterProvider.Meter(ScopeName)
	name := PipelineNameKey.String(p.cfg.name)
	set := attribute.NewSet(name)
	t := &telemetry{
		ok:   metric.WithAttributeSet(attribute.NewSet(name, ExportOutcomeKey.String(semconv.OutcomeSuccess))),
		fail: metric.WithAttributeSet(attribute.NewSet(name, ExportOutcomeKey.String(semconv.OutcomeFailure))),
	}
	var err error
	if t.duration, err = m.Float64Histogram(MetricExportDuration, metric.WithUnit("s"),
		metric.WithDescription("Duration of each Export call of the audit pipeline.")); err != nil {
		return nil, err
	}
	counter := func(name, unit, desc string) (metric.Int64ObservableCounter, error) {
		return m.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
	}
	gauge := func(name, desc string) (metric.Int64ObservableUpDownCounter, error) {
		return m.Int64ObservableUpDownCounter(name, metric.WithUnit("{record}"), metric.WithDescription(desc))
	}
	emitted, err1 := counter(MetricEmitted, "{record}", "Records handed to the audit pipeline.")
	exported, err2 := counter(MetricExported, "{record}", "Records the audit pipeline's exporter accepted.")
	dropped, err3 := counter(MetricDropped, "{record}", "Records the audit pipeline lost, by reason and event name.")
	exportErrors, err4 := counter(MetricExportErrors, "{error}", "Failed Export calls of the audit pipeline.")
	rejected, err5 := counter(MetricGateRejected, "{request}", "Requests the audit gate refused.")
	timeouts, err6 := counter(MetricWaitTimeouts, "{record}", "Blocking or strict records not exported within their deadline.")
	size, err7 := gauge(MetricQueueSize, "Records waiting in the audit pipeline's queue.")
	capacity, err8 := gauge(MetricQueueCapacity, "Bound of the audit pipeline's queue.")
	spilled, err9 := counter(MetricSpilled, "{record}", "Records the audit pipeline's spill exporter wrote instead of their being lost, by reason and event name.")
	for _, e := range []error{err1, err2, err3, err4, err5, err6, err7, err8, err9} {
		if e != nil {
			return nil, e
		}
	}
	attrs := metric.WithAttributeSet(set)
	_, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		st := p.Stats()
		o.ObserveInt64(emitted, int64(st.Emitted), attrs)
		o.ObserveInt64(exported, int64(st.Exported), attrs)
		o.ObserveInt64(exportErrors, int64(st.ExportErrors), attrs)
		o.ObserveInt64(rejected, int64(st.Rejected), attrs)
		o.ObserveInt64(timeouts, int64(st.WaitTimeouts), attrs)
		o.ObserveInt64(size, int64(st.Queued), attrs)
		o.ObserveInt64(capacity, int64(st.Capacity), attrs)
		for _, d := range st.Drops {
			o.ObserveInt64(dropped, int64(d.Count), metric.WithAttributes(
				name, DropReasonKey.String(d.Reason), EventNameKey.String(d.EventName)))
		}
		for _, d := range st.Spills {
			o.ObserveInt64(spilled, int64(d.Count), metric.WithAttributes(
				name, DropReasonKey.String(d.Reason), EventNameKey.String(d.EventName)))
		}
		return nil
	}, emitted, exported, dropped, exportErrors, rejected, timeouts, size, capacity, spilled)
	if err != nil {
		return nil, err
	}
	return t, nil
}

func (t *telemetry) exportDone(d time.Duration, err error) {
	opt := t.ok
	if err != nil {
		opt = t.fail
	}
	t.duration.Record(context.Background(), d.Seconds(), opt)
}

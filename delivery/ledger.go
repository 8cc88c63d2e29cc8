package delivery

import (
	"cmp"
	"slices"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/secaudit/secaudit/semconv"
)

// maxDropKeys bounds the distinct (reason, event name) pairs counted; the
// event names of further pairs are counted as [OtherEvents].
const maxDropKeys = 256

// Stand-in event names in drop counts.
const (
	// OtherEvents stands for the event names beyond the first 256 distinct
	// (reason, event name) pairs, which are counted together.
	OtherEvents = "(other)"
	// UnnamedEvents stands for records without an event name (application
	// logs from a bridge, for instance).
	UnnamedEvents = "(none)"
)

var emptyValue attribute.Value

type dropKey struct{ reason, event string }

// ledger counts drops since the start and since the last summary. It is
// guarded by the processor's mutex.
type ledger struct {
	total       uint64
	byKey       map[dropKey]uint64
	window      map[dropKey]uint64
	windowTotal uint64
	windowStart time.Time
}

func (l *ledger) add(reason, event string) {
	if l.byKey == nil {
		l.byKey = make(map[dropKey]uint64)
		l.window = make(map[dropKey]uint64)
	}
	if event == "" {
		event = UnnamedEvents
	}
	k := dropKey{reason, event}
	if _, ok := l.byKey[k]; !ok && len(l.byKey) >= maxDropKeys {
		k.event = OtherEvents
	}
	l.byKey[k]++
	l.window[k]++
	l.total++
	l.windowTotal++
}

// Drop counts the records lost for one reason and event name.
type Drop struct {
	Reason    string `json:"reason"`
	EventName string `json:"event_name"`
	Count     uint64 `json:"count"`
}

func sortedDrops(m map[dropKey]uint64) []Drop {
	out := make([]Drop, 0, len(m))
	for k, n := range m {
		out = append(out, Drop{Reason: k.reason, EventName: k.event, Count: n})
	}
	slices.SortFunc(out, func(a, b Drop) int {
		return cmp.Or(cmp.Compare(a.Reason, b.Reason), cmp.Compare(a.EventName, b.EventName))
	})
	return out
}

// queueSummaryLocked queues an audit.pipeline.dropped record when records
// were lost since the last one, and reports whether it did. final marks
// the summary queued at Shutdown, of which there is at most one. p.mu must
// be held.
func (p *Processor) queueSummaryLocked(now time.Time, final bool) bool {
	if final {
		if p.finalDone {
			return false
		}
		p.finalDone = true
	}
	l := &p.ledger
	if l.windowTotal == 0 || p.template == nil {
		return false
	}
	reasons := map[string]int64{}
	events := map[string]int64{}
	for k, n := range l.window {
		reasons[k.reason] += int64(n)
		events[k.event] += int64(n)
	}
	rec := p.template.Clone()
	rec.SetEventName(EventPipelineDropped)
	rec.SetTimestamp(now)
	rec.SetObservedTimestamp(now)
	rec.SetSeverity(semconv.SeverityError)
	rec.SetSeverityText(semconv.SeverityTextError)
	rec.SetBody(attribute.StringValue(EventPipelineDropped))
	rec.SetTraceID(trace.TraceID{})
	rec.SetSpanID(trace.SpanID{})
	rec.SetTraceFlags(0)
	rec.SetAttributes(
		semconv.AuditSchemaVersionKey.String(semconv.SchemaVersion),
		semconv.AuditOutcomeKey.String(semconv.OutcomeFailure),
		PipelineNameKey.String(p.cfg.name),
		DroppedCountKey.Int64(int64(l.windowTotal)),
		DroppedTotalKey.Int64(int64(l.total)),
		attribute.KeyValue{Key: DroppedReasonsKey, Value: countsValue(reasons)},
		attribute.KeyValue{Key: DroppedEventsKey, Value: countsValue(events)},
		WindowStartKey.Int64(l.windowStart.UnixNano()),
	)
	clear(l.window)
	l.windowTotal = 0
	l.windowStart = now

	p.seq++
	p.q.pushRecord(rec, meta{seq: p.seq, class: uint8(classStrict), internal: true})
	p.summaries.Add(1)
	return true
}

// countsValue is a map value with sorted keys, for stable output.
func countsValue(m map[string]int64) attribute.Value {
	kvs := make([]attribute.KeyValue, 0, len(m))
	for k, n := range m {
		kvs = append(kvs, attribute.Int64(k, n))
	}
	slices.SortFunc(kvs, func(a, b attribute.KeyValue) int { return cmp.Compare(a.Key, b.Key) })
	return attribute.MapValue(kvs...)
}

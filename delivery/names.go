package delivery

import (
	"github.com/secaudit/secaudit/semconv"
)

// EventPipelineDropped is the event the processor emits, through its own
// exporter, when records were lost since its last summary: a periodic
// account of every loss (see [WithSummaryInterval]).
const EventPipelineDropped = semconv.EventPipelineDropped

// Attributes of an [EventPipelineDropped] event.
const (
	// PipelineNameKey: string, the processor's name ([WithName]); also an
	// attribute of every metric.
	PipelineNameKey = semconv.AuditPipelineNameKey
	// DroppedCountKey: int, records lost since the previous summary.
	DroppedCountKey = semconv.AuditPipelineDroppedCountKey
	// DroppedTotalKey: int, records lost since the processor started, so a
	// reader can tell when a summary itself went missing.
	DroppedTotalKey = semconv.AuditPipelineDroppedTotalKey
	// DroppedReasonsKey: map, reason → records lost since the previous
	// summary.
	DroppedReasonsKey = semconv.AuditPipelineDroppedReasonsKey
	// DroppedEventsKey: map, event name → records lost since the previous
	// summary ([UnnamedEvents] for records without an event name).
	DroppedEventsKey = semconv.AuditPipelineDroppedEventsKey
	// WindowStartKey: int, Unix nanoseconds, the start of the period the
	// summary covers (it ends at the record's timestamp).
	WindowStartKey = semconv.AuditPipelineWindowStartKey
)

// Why a record was lost: the values of [DropReasonKey] and the keys of
// [DroppedReasonsKey].
const (
	// ReasonQueueFull: the queue was full of records at least as valuable,
	// and the record could not wait for room (async mode, or its deadline
	// passed).
	ReasonQueueFull = "queue_full"
	// ReasonEvicted: a queued record of the lowest priority present was
	// removed to make room for a more valuable one.
	ReasonEvicted = "evicted"
	// ReasonExportFailed: the exporter refused the record for good (it was
	// shut down) or kept failing for longer than the retry limit.
	ReasonExportFailed = "export_failed"
	// ReasonShutdown: the record was still waiting when Shutdown's context
	// ended.
	ReasonShutdown = "shutdown"
	// ReasonClosed: the record arrived after Shutdown began.
	ReasonClosed = "closed"
)

// Metric names. All are reported through the MeterProvider given to
// [WithMeterProvider] (none by default) with the attribute
// [PipelineNameKey].
const (
	// MetricEmitted: counter, records handed to the processor.
	MetricEmitted = "audit.pipeline.records.emitted"
	// MetricExported: counter, records the exporter accepted.
	MetricExported = "audit.pipeline.records.exported"
	// MetricDropped: counter, records lost, by [DropReasonKey] and
	// [EventNameKey].
	MetricDropped = "audit.pipeline.records.dropped"
	// MetricSpilled: counter, records the spill exporter wrote instead of
	// their being lost, by [DropReasonKey] (the reason they would have
	// been dropped for) and [EventNameKey].
	MetricSpilled = "audit.pipeline.records.spilled"
	// MetricExportErrors: counter, failed Export calls (each is retried or
	// its records counted as dropped).
	MetricExportErrors = "audit.pipeline.export.errors"
	// MetricExportDuration: histogram, seconds per Export call, with
	// [ExportOutcomeKey].
	MetricExportDuration = "audit.pipeline.export.duration"
	// MetricQueueSize: up-down counter, records waiting.
	MetricQueueSize = "audit.pipeline.queue.size"
	// MetricQueueCapacity: up-down counter, the queue's bound.
	MetricQueueCapacity = "audit.pipeline.queue.capacity"
	// MetricGateRejected: counter, requests the gate refused ([Processor.Admit]).
	MetricGateRejected = "audit.pipeline.gate.rejected"
	// MetricWaitTimeouts: counter, blocking or strict records not exported
	// within their deadline (they stay queued; this is not a loss).
	MetricWaitTimeouts = "audit.pipeline.wait.timeouts"
)

// Metric attribute keys.
const (
	// DropReasonKey: string, one of the Reason* values.
	DropReasonKey = semconv.AuditPipelineDropReasonKey
	// EventNameKey: string, the dropped record's event name.
	EventNameKey = semconv.EventNameKey
	// ExportOutcomeKey: string, "success" or "failure".
	ExportOutcomeKey = semconv.AuditOutcomeKey
)

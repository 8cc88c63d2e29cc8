// Package delivery is secaudit's exporting processor: the last stage of the
// pipeline, between the processor chain and an exporter (the JSONL file, or
// otlploghttp). It replaces the SDK's simple and batch processors with one
// that never loses a record silently and never stands in a request's way
// unless told to.
//
// The SDK's batch processor, when its queue is full, overwrites the oldest
// record and logs a warning. For an audit trail that is the wrong default:
// the failed login from the start of an incident is exactly the record that
// must survive. Kubernetes' audit backends (batch, blocking,
// blocking-strict) and Vault's audit devices (a request fails when no
// device can record it) are the models for what this package offers
// instead.
//
//	exp, _ := exporter.NewJSONL(exporter.WithFile("/var/log/app/audit.jsonl"))
//	p, err := delivery.New(exp,
//		delivery.WithName("jsonl"),
//		delivery.WithStrictEvents("authz.*", "model.*"),
//		delivery.WithMeterProvider(meterProvider),
//	)
//	provider := sdklog.NewLoggerProvider(sdklog.WithProcessor(chain(p)))
//
// # A bounded queue, by priority
//
// [Processor.OnEmit] copies the record into a bounded queue
// ([WithQueueSize]; with [WithoutCopy], for the last processor of a
// provider when nothing after it changes records, it keeps the SDK's
// record as it is) and returns; one worker goroutine exports them in
// arrival order, in batches of up to [WithBatchSize]. Once a record waits,
// the worker gives the batch a few milliseconds to fill ([WithLinger],
// 5 ms by default) unless a blocking or strict emitter, ForceFlush or
// Shutdown waits: a JSONL file then costs one write per batch rather than
// one per event.
//
// When the queue is full, a new record displaces a queued record of the
// lowest [Priority] present, if that priority is below its own; otherwise
// the new record is the one dropped (but see fairness, below).
// [DefaultPriority] ranks sampled OK responses lowest, then redirects,
// then client errors (4xx) of requests without a user.id, then the audit
// trail (logins, logouts, model changes, custom events), then security
// events (4xx of authenticated users, 5xx, failed logins, authz.*,
// security.*, anything at WARN or above). So under overload the OK
// responses absorb the losses, and anonymous 404s — which any client sends
// at will — never push out a user's login or model change.
//
// Eviction is fair between actors. A record's actor is its user.id, or
// else its client.address (else its network.peer.address; records with
// none of them share one actor). The record displaced from a priority is
// the newest of the actor holding the most queued records of that
// priority (of actors holding as many, the one that queued last). And a
// new record also displaces one of its own priority when the heaviest
// actor there holds at least two more records of it than the new record's
// actor does.
//
// For the audit trail and security events, fairness comes before priority:
// once nothing below the audit trail is left to displace, a new record of
// either is weighed against the actor M holding the most records of the
// two together, and may displace only M's newest record of its lowest
// priority — when M holds at least two more of them than the new record's
// actor, whatever the priorities; when M holds one more and that record
// ranks below the new one; or when M is the new record's own actor and
// that record ranks below it. Otherwise the new record is dropped. So one
// address's flood of failed logins (or of 5xx it provokes) evicts its own
// records, never other users' logins and model changes, whether they came
// before the flood or after it; a security event is lost only when the
// queue holds nothing below the audit trail and its actor already holds
// no fewer than one less than the heaviest actor. Records
// below the audit trail never displace one (a sampled OK response does not
// evict a flooder's security events), and a failed batch put back into a
// full queue displaces records by the same rules. Once every actor holds
// about as many, new records are dropped as before. Strict records never
// displace one another (they wait for room) and are not counted in the
// shares. Heaps of actors (per priority, and by audit and security records
// together) make finding and removing the victim O(log actors), without
// allocating.
//
// Every loss is counted by reason (queue_full, evicted, export_failed,
// shutdown, closed) and event name.
//
// # Delivery modes
//
// Each record has a [Mode]: [WithMode] sets the default, and
// [WithBlockingEvents] and [WithStrictEvents] choose event classes by name
// or prefix ("model.*").
//
//   - async (the default) never blocks the emitting goroutine.
//   - blocking waits, up to [WithTimeout], for room in the queue and then
//     for the exporter to accept the record. A record that times out
//     stays queued; the timeout is counted.
//   - strict is blocking for the records that must not go unaudited, and
//     ranks above every priority. A strict record that misses its deadline
//     closes the gate until the next successful export.
//
// # The gate: fail closed, per route
//
// [Processor.Admit] is the Vault behaviour, offered per route rather than
// for the whole server: a middleware calls it before serving a route whose
// events must be recorded, and answers 503 when it returns an error
// ([ErrUnavailable]). Admit refuses at once while the pipeline is known not
// to deliver (the last export failed and is being retried, an export has
// run past the timeout, a strict record missed its deadline, shut down),
// and otherwise waits at most the timeout for the export in progress to
// succeed. Other routes keep serving, in async mode, whatever the exporter
// does. [All] combines the gates of several processors; [Gate] is the
// one-method interface a middleware needs.
//
// # Failures, outages and shutdown
//
// A failed Export keeps its records at the front of the queue and is
// retried with exponential back-off ([WithRetry]); meanwhile new records
// queue up, and beyond the bound the usual priority rule drops and counts.
// So an OTLP Collector that restarts loses nothing that fits in the queue.
// While an export fails, or has run for 100 ms, the records queued behind
// the first few are held packed in pointer-free memory, which garbage
// collections need not scan, and rebuilt as the exporter takes them: a
// queue held full through an outage costs the collector almost nothing.
// (Turn otlploghttp's own retry off behind this processor: it would hold
// the worker for up to a minute per batch.) After [WithRetry]'s maximum
// elapsed time of continuous failure, failing batches are dropped and
// counted; an exporter that reports sdklog.ErrExporterShutdown is never
// retried. Delivery is at least once: a batch whose Export failed after
// the backend received part of it is sent again.
//
// # Spilling instead of dropping
//
// [WithSpill] (or [WithSpillDir], $SECAUDIT_DELIVERY_SPILL_DIR, for a JSONL
// file <dir>/<name>.spill.jsonl) gives the processor a dead-letter
// exporter: every record it would otherwise drop (queue full, evicted,
// export failed for good, left at Shutdown's deadline, or arriving after
// Shutdown began) is copied into a second bounded buffer, as large as the
// queue, and written there by a goroutine of its own, and counted as
// spilled by the reason it would have been dropped for (an
// audit.pipeline.dropped summary the exporter cannot take is spilled too,
// uncounted: it is not an emitted record). Only what the
// spill exporter cannot take (its buffer is full, or its Export fails) is
// counted as dropped. A Collector outage longer than the queue holds, or
// one still going on at Shutdown, then costs no record: the file holds
// them, in the envelope of the JSONL exporter, and the command
// tools/spillreplay sends them to an OTLP endpoint once it is back.
// Spilled records are not retried into the main exporter. Shutdown goes on writing the
// records left at its deadline for up to [SpillGrace] more. The file is
// not rotated, and is capped ([WithSpillMaxBytes], 256 MiB by default):
// beyond the cap, records are dropped and counted again. When the file is
// moved or removed (taken away to be re-ingested), the next batch starts a
// new one, and a processor that starts with a spill file already holding
// records reports it through the OTel error handler (otel.Handle). Losses
// counted after the final audit.pipeline.dropped summary
// was queued (the spill file failing during Shutdown, records arriving
// after it began) show in [Processor.Stats] and the metrics only.
//
// [Processor.Shutdown] stops taking records, exports everything queued
// (retrying as needed) and shuts the exporter down. If its context ends
// first, whatever is left is counted as dropped (reason shutdown), or
// spilled, so that when Shutdown returns, emitted = exported + spilled +
// dropped, always.
//
// # Self-telemetry
//
// Through the Metrics API, with the MeterProvider given to
// [WithMeterProvider] (a no-op by default): records emitted, exported,
// dropped and spilled (by reason and event.name), export errors and
// durations, queue size and capacity, gate refusals and wait timeouts (see
// the Metric* names). Counters are observed from [Processor.Stats] at collection time,
// so the record path pays nothing for them.
//
// When records were lost, the processor also exports an
// [EventPipelineDropped] event ("audit.pipeline.dropped") through its own
// exporter, at most once per [WithSummaryInterval] and once more at
// Shutdown: the losses since the previous summary by reason and by event
// name, and the running total. It carries the resource and scope of the
// records the processor has seen.
//
// [HealthHandler] serves the state of one or more processors as JSON
// (queue fill, drops, last export and last error, the JSONL file's write,
// rotation and sync errors) with status 200, or 503 when a pipeline is
// unavailable: usable as a readiness check where fail-closed routes matter.
// Serve it on an internal port, not the public one: it tells whoever reads
// it when the audit trail is losing records. Its reasons name the kind of
// an export error ("export failed: connection refused", "timeout",
// "http 503 Service Unavailable"), never its text, which names the
// Collector's URL, host and port or a file path; the full error of every
// failed export goes to the OTel error handler (otel.Handle).
//
// # Configuration
//
// Options override the environment, which overrides the defaults; an
// invalid value makes [New] fail with an error naming the option or
// variable ([WithoutEnv] ignores the environment):
//
//	SECAUDIT_DELIVERY_MODE               WithMode            async | blocking | strict  (async)
//	SECAUDIT_DELIVERY_TIMEOUT            WithTimeout         Go duration                (250ms)
//	SECAUDIT_DELIVERY_QUEUE_SIZE         WithQueueSize       records                    (8192)
//	SECAUDIT_DELIVERY_BATCH_SIZE         WithBatchSize       records per Export         (512)
//	SECAUDIT_DELIVERY_EXPORT_TIMEOUT     WithExportTimeout   Go duration                (30s)
//	SECAUDIT_DELIVERY_RETRY_MAX_ELAPSED  WithRetry           Go duration, 0 = forever   (5m)
//	SECAUDIT_DELIVERY_STRICT_EVENTS      WithStrictEvents    names or prefix*, comma list
//	SECAUDIT_DELIVERY_BLOCKING_EVENTS    WithBlockingEvents  names or prefix*, comma list
//	SECAUDIT_DELIVERY_SUMMARY_INTERVAL   WithSummaryInterval Go duration, 0 = at Shutdown only (1m)
//	SECAUDIT_DELIVERY_LINGER             WithLinger          Go duration, 0 = export at once (5ms)
//	SECAUDIT_DELIVERY_SPILL_DIR          WithSpillDir        directory for <name>.spill.jsonl (none)
//	SECAUDIT_DELIVERY_SPILL_MAX_BYTES    WithSpillMaxBytes   bytes                      (268435456)
//
// # Cost
//
// OnEmit copies the record (no allocation for up to five attributes, one
// beyond; none with [WithoutCopy]), hashes its actor, takes a mutex and wakes the worker: about as
// much as the SDK's batch processor. The queue grows with use up to its bound and gives its
// memory back when idle.
//
// All methods are safe for concurrent use, and a nil *Processor is a
// no-op.
package delivery

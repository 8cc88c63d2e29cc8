// Package spillreplay sends the records of a secaudit spill file (the
// dead-letter JSONL file of delivery.WithSpillDir and
// SECAUDIT_DELIVERY_SPILL_DIR) to an OTLP endpoint, once the backend that
// could not take them is back. It is the command secaudit replay, and
// tools/spillreplay (kept for existing scripts) runs the same code.
//
// Each line becomes the OTel log record it was: timestamps, severity, body,
// event name, attributes, trace and span ids, under its own resource and
// instrumentation scope. The records were scrubbed and limited before they
// were spilled; they are not processed again. The JSONL envelope keeps
// values as JSON, so a replayed attribute has the JSON type of what was
// written: a byte slice comes back as its base64 string, a float with an
// integral value as an integer; the record's JSONL line is the same.
//
// Records are sent in batches of -batch, each retried with back-off until
// -timeout after the first failure. When it gives up, the command says how
// many records were sent and the line to resume from (-from); a batch that
// failed part-way may be sent twice (delivery is at least once). Lines that
// are not records are reported with their numbers and skipped. The command
// succeeds only when every record was sent and every line was a record.
// The file is left as it is: remove it once the command succeeded.
//
// A batch the endpoint accepts with some records rejected (an OTLP partial
// success: records too old for the backend, say) is reported and not sent
// again; the command then fails.
//
// The endpoint and its headers, TLS and compression come from the standard
// OTEL_EXPORTER_OTLP_[LOGS_]* variables, as for the application.
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES are ignored: a replayed
// record keeps the resource it was written with.
package spillreplay

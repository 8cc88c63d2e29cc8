// Package setup wires a complete secaudit pipeline: an OpenTelemetry Logs SDK
// [sdklog.LoggerProvider] with a resource, secaudit's processor chain and the
// exporters chosen by option or environment, and an [secaudit.Auditor] on top.
//
//	p, err := setup.New(ctx, setup.WithServiceName("shop"))
//	if err != nil { … }               // an invalid option or env value, named
//	defer p.Shutdown(context.Background()) // flushes every pending event
//	audit := p.Auditor()
//
// Configuration follows option > environment > default, and an explicit
// zero given by an option is a value (refused when invalid, never replaced
// by a variable). [WithoutEnv] ignores the environment, in setup and in
// every package it builds. The environment variables are the standard
// OpenTelemetry ones plus secaudit's:
//
//	OTEL_SERVICE_NAME            service.name (default "unknown_service:<program>")
//	OTEL_RESOURCE_ATTRIBUTES     more resource attributes, key=value,…
//	OTEL_LOGS_EXPORTER           jsonl (default) | otlp | none, or a comma list such as otlp,jsonl
//	SECAUDIT_JSONL_PATH          write JSONL to this file (appending) instead of stdout
//	OTEL_EXPORTER_OTLP_[LOGS_]ENDPOINT, _HEADERS, _TIMEOUT, _COMPRESSION, _INSECURE, …
//	                             the otlploghttp exporter's standard settings
//
// The processor chain's own SECAUDIT_* variables (scrubbing, limits,
// filtering, sampling) are read by the processor package. An invalid value of
// any of them makes [New] fail with an error naming the variable, in one
// format: secaudit: SECAUDIT_X="v": want … (secaudit: WithX(v): want … for
// an option). A SECAUDIT_
// variable that none of the packages reads (a misspelt name, most likely) is
// reported by [New], with the closest real name, through the OTel error
// handler; it does not stop start-up.
//
// Each exporter runs behind its own delivery processor (package delivery): a
// bounded queue with one worker that never blocks a request in the default
// async mode, drops the least valuable records first when full (OK
// responses before security events), retries failed exports, and counts
// every loss (SECAUDIT_DELIVERY_* variables, [WithDeliveryOptions]). OTLP
// is gzip-compressed by default. Scrubbing and limits run once, before the
// exporters; the resource's attributes, which processors cannot change, are
// scrubbed by the same rules when [New] builds it, and so are the scope
// attributes of every logger [Pipeline.LoggerProvider] creates.
// [Pipeline.Gate] and [Pipeline.HealthHandler] expose the delivery state
// to the middleware's strict routes and to readiness checks; the health
// report also shows detection's counters.
//
// The JSONL file (SECAUDIT_JSONL_PATH) can rotate by size
// (SECAUDIT_JSONL_MAX_BYTES, SECAUDIT_JSONL_MAX_FILES, default 5 kept) and be
// fsynced (SECAUDIT_JSONL_FSYNC: never, always, or an interval such as 1s).
// It can be made tamper-evident: SECAUDIT_JSONL_CHAIN=true ([WithJSONLChain])
// chains its lines by hash (seq and prev_hash in each line), and
// SECAUDIT_JSONL_SIGNING_KEY=FILE ([WithJSONLSigningKey]; a key from
// `secaudit keygen`, which also turns the chain on) writes signed
// checkpoints to the file's path + ".checkpoints" every
// SECAUDIT_JSONL_CHECKPOINT_INTERVAL (default 1m), at rotation and at
// shutdown; `secaudit verify` checks them. A bad key file stops [New] with
// an error naming the variable and the path, never the key.
package setup

// Package setup wires a complete secaudit pipeline: an OpenTelemetry Logs SDK
// [sdklog.LoggerProvider] with a resource, secaudit's processor chain and the
// exporters chosen by option or environment, and an [secaudit.Auditor] on top.
//
//	p, err := setup.New(ctx, setup.WithServiceName("shop"))
//	if err != nil { … }               // an invalid option or env value, named
//	defer p.Shutdown(context.Background()) // flushes every pending event
//	audit := p.Auditor()
//
// Configuration follows option > environment > default. The environment
// variables are the standard OpenTelemetry ones plus secaudit's:
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
// any of them makes [New] fail with an error naming the variable.
//
// The JSONL exporter runs behind a synchronous processor (every event is
// written before the call returns, nothing is dropped); OTLP runs behind the
// SDK's batch processor with gzip on by default. Scrubbing and limits run once,
// before either.
package setup

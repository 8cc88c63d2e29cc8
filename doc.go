// Package secaudit turns security facts into OpenTelemetry log records.
//
// An [Auditor] is built from a [log.LoggerProvider] (the global one by
// default) and offers one typed call per event of secaudit's catalogue:
// [Auditor.LoginSucceeded], [Auditor.LoginFailed], [Auditor.Logout],
// [Auditor.ModelCreated] and its siblings, [Auditor.AuthzDenied],
// [Auditor.RateLimited], [Auditor.SignatureInvalid],
// [Auditor.SuspiciousRequest], and [Auditor.Emit] for custom security events.
// Every call takes the request's [context.Context]: it is the only source of
// the trace and span ids, and of the request facts ([Request]) that the
// instrumentation middleware put there, so each event carries the request id,
// client address, route and user automatically.
//
// Every event is one log record with Timestamp, EventName, severity number and
// text, a short body and attributes from the [semconv] package, including
// audit.schema_version. This package depends on the OpenTelemetry Logs API
// only; scrubbing, limits, sampling and export are the SDK's job, wired by the
// setup package.
//
// Audit calls never panic and never block on I/O beyond what the configured
// processors do. Misuse (an empty event name, an invalid severity) emits
// nothing and is counted in [Stats].
//
// A nil *Auditor is safe to use: every call is a no-op.
package secaudit

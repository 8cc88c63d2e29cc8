package semconv

import (
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	upstream "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// SchemaVersion is the version of secaudit's event schema, carried by every
// event as [AuditSchemaVersionKey] and in the JSONL envelope as
// attributes.schema_version. A major bump means a breaking change; a minor
// bump only adds events or attributes.
const SchemaVersion = "1.0"

// SchemaURL is the OpenTelemetry semantic-conventions schema the reused
// upstream keys come from.
const SchemaURL = upstream.SchemaURL

// Event names (the log record's EventName and the JSONL event_name).
const (
	// EventHTTPResponseSuccess: a 1xx or 2xx response, logged only when OK
	// responses are enabled, and sampled.
	EventHTTPResponseSuccess = "http.response.success"
	// EventHTTPResponseRedirect: a 3xx response, gated like success.
	EventHTTPResponseRedirect = "http.response.redirect"
	// EventHTTPResponseClientError: a 4xx response; always logged, never sampled.
	EventHTTPResponseClientError = "http.response.client_error"
	// EventHTTPResponseServerError: a 5xx response or a handler panic; always logged.
	EventHTTPResponseServerError = "http.response.server_error"

	// EventLoginSuccess: a user authenticated.
	EventLoginSuccess = "auth.login.success"
	// EventLoginFailed: an authentication attempt failed.
	EventLoginFailed = "auth.login.failed"
	// EventLogoutSuccess: a known user logged out.
	EventLogoutSuccess = "auth.logout.success"
	// EventLogoutUnknown: a logout without a known user.
	EventLogoutUnknown = "auth.logout.unknown"

	// EventModelCreate: the application created a record.
	EventModelCreate = "model.create"
	// EventModelUpdate: the application changed a record (field names only).
	EventModelUpdate = "model.update"
	// EventModelDelete: the application deleted a record.
	EventModelDelete = "model.delete"
	// EventModelAccess: the application read a sensitive record.
	EventModelAccess = "model.access"

	// EventAuthzDenied: an authenticated user was refused an action.
	EventAuthzDenied = "authz.denied"

	// EventRateLimited: a client exceeded a rate limit.
	EventRateLimited = "security.rate_limited"
	// EventSignatureInvalid: a request carried an invalid signature (webhook, token, …).
	EventSignatureInvalid = "security.signature_invalid"
	// EventSuspiciousRequest: a request matched a probe or attack pattern.
	EventSuspiciousRequest = "security.suspicious_request"
	// EventAlert: a detection rule fired (package detect): once per rule,
	// subject and window, with the rule (security_rule.name and
	// .category), the count it saw and its window; WARNING, or ERROR for a
	// rule that says so.
	EventAlert = "security.alert"
	// EventBlockApplied: a block began (package detect/guard): an address,
	// or a user and address pair (lockout), refused until it expires;
	// WARNING, with security_rule.name (the rule that fired, or "manual"),
	// audit.block.scope, the subject (client.address, user.id, user.name
	// when usernames are on), audit.block.expires_at and .duration_s.
	EventBlockApplied = "security.block.applied"
	// EventBlockLifted: a block ended — expired, lifted from Go or evicted
	// to keep the guard's cap (audit.block.reason says which); INFO, with
	// the same attributes as its security.block.applied.
	EventBlockLifted = "security.block.lifted"

	// EventMalformedRecord: the exporter's replacement for a record that could
	// not be encoded or was larger than the record limit. It carries none of
	// the original content.
	EventMalformedRecord = "audit.logging.malformed_record"

	// EventPipelineDropped: the delivery processor's periodic account of
	// records it lost since its previous summary (ERROR). It is exported
	// only when a loss occurred.
	EventPipelineDropped = "audit.pipeline.dropped"

	// EventChainRestart: a marker line the JSONL exporter writes (with
	// SECAUDIT_JSONL_CHAIN) when it cannot continue the hash chain from the
	// file it appends to — a torn last line left by a crash, or a last line
	// without chain fields; WARNING, with audit.chain.reason and
	// audit.chain.torn_bytes. `secaudit verify` accepts the line before it
	// only because of it.
	EventChainRestart = "audit.chain.restart"
)

// Record bodies. The body is a short, stable string (it becomes the Loki line).
const (
	BodyHTTPResponse    = "http.response"
	BodyLogout          = "auth.logout"
	BodyModelEvent      = "model.event"
	BodyMalformedRecord = EventMalformedRecord
	BodyChainRestart    = EventChainRestart
)

// Severities, with the reference's severity texts.
const (
	SeverityInfo     = log.SeverityInfo  // 9
	SeverityWarning  = log.SeverityWarn  // 13
	SeverityError    = log.SeverityError // 17
	SeverityCritical = log.SeverityFatal // 21

	SeverityTextInfo     = "INFO"
	SeverityTextWarning  = "WARNING"
	SeverityTextError    = "ERROR"
	SeverityTextCritical = "CRITICAL"
)

// SeverityText returns the severity text secaudit uses for s: INFO for 9–12,
// WARNING for 13–16, ERROR for 17–20, CRITICAL for 21–24, DEBUG below 9 (and
// TRACE below 5), and "" for an undefined severity.
func SeverityText(s log.Severity) string {
	switch {
	case s > log.SeverityFatal4:
		return ""
	case s >= log.SeverityFatal1:
		return SeverityTextCritical
	case s >= log.SeverityError1:
		return SeverityTextError
	case s >= log.SeverityWarn1:
		return SeverityTextWarning
	case s >= log.SeverityInfo1:
		return SeverityTextInfo
	case s >= log.SeverityDebug1:
		return "DEBUG"
	case s >= log.SeverityTrace1:
		return "TRACE"
	}
	return ""
}

// Outcome values of [AuditOutcomeKey].
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
)

// Action values of [AuditActionKey].
const (
	ActionResponse  = "response"
	ActionLogin     = "login"
	ActionLogout    = "logout"
	ActionCreate    = "create"
	ActionUpdate    = "update"
	ActionDelete    = "delete"
	ActionAccess    = "access"
	ActionAuthorize = "authorize"
	ActionRateLimit = "rate_limit"
	ActionVerify    = "verify"
	ActionInspect   = "inspect"
	ActionMalformed = "malformed"
)

// Parse status values of [AuditRequestBodyParseStatusKey].
const (
	BodyParseTooLarge         = "too_large"
	BodyParseInvalidJSON      = "invalid_json"
	BodyParseUnsupportedShape = "unsupported_shape"
)

// Attribute keys reused from OpenTelemetry's semantic conventions (v1.43.0).
const (
	// ClientAddressKey: string. The client's address, resolved with trusted
	// proxies; never the raw leftmost X-Forwarded-For. PII.
	ClientAddressKey = upstream.ClientAddressKey
	// NetworkPeerAddressKey: string. The socket peer, always. PII.
	NetworkPeerAddressKey = upstream.NetworkPeerAddressKey
	// HTTPRequestMethodKey: string, e.g. "POST".
	HTTPRequestMethodKey = upstream.HTTPRequestMethodKey
	// HTTPResponseStatusCodeKey: int, e.g. 403.
	HTTPResponseStatusCodeKey = upstream.HTTPResponseStatusCodeKey
	// HTTPRouteKey: string. The low-cardinality route pattern, e.g. "/api/accounts/{id}".
	HTTPRouteKey = upstream.HTTPRouteKey
	// URLPathKey: string. The request path, never the query.
	URLPathKey = upstream.URLPathKey
	// URLFullKey: string. scheme://host/path, without query or credentials.
	URLFullKey = upstream.URLFullKey
	// URLQueryKey: string. The raw query, without the "?": opt-in only
	// (instrumentation.WithURLQuery, SECAUDIT_LOG_QUERY), and scrubbed:
	// queries carry secrets.
	URLQueryKey = upstream.URLQueryKey
	// UserAgentOriginalKey: string. Client-controlled: never trust it.
	UserAgentOriginalKey = upstream.UserAgentOriginalKey
	// UserIDKey: string. The application's id of the acting user. PII.
	UserIDKey = upstream.UserIDKey
	// UserNameKey: string. Only when usernames are enabled (off by default). PII.
	UserNameKey = upstream.UserNameKey
	// SessionIDKey: string. Opt-in; an opaque audit session id, never the
	// framework's session key.
	SessionIDKey = upstream.SessionIDKey
	// ExceptionTypeKey: string. The Go type of a panic value or error.
	ExceptionTypeKey = upstream.ExceptionTypeKey
	// ExceptionMessageKey: string. Scrubbed: error texts carry DSNs and tokens.
	ExceptionMessageKey = upstream.ExceptionMessageKey
	// ExceptionStacktraceKey: string. Scrubbed.
	ExceptionStacktraceKey = upstream.ExceptionStacktraceKey
	// SecurityRuleNameKey: string. The rule that flagged a suspicious request.
	SecurityRuleNameKey = upstream.SecurityRuleNameKey
	// SecurityRuleCategoryKey: string. On security.alert, the rule's
	// category, e.g. "authentication" or "reconnaissance".
	SecurityRuleCategoryKey = upstream.SecurityRuleCategoryKey
	// ServiceNameKey: string, a resource attribute.
	ServiceNameKey = upstream.ServiceNameKey
	// RPCSystemNameKey: string, the RPC system, "grpc" for the gRPC
	// interceptors (instrumentation/grpc/auditgrpc); on every event of a
	// call.
	RPCSystemNameKey = upstream.RPCSystemNameKey
	// RPCMethodKey: string, the fully qualified method without the leading
	// slash, e.g. "shop.Accounts/Get" (the service is its first part); on
	// every event of a call. The call's http.route is the full method
	// with the slash, "/shop.Accounts/Get".
	RPCMethodKey = upstream.RPCMethodKey
	// RPCResponseStatusCodeKey: string, the call's status code by its
	// canonical name, e.g. "PERMISSION_DENIED"; on the call's response
	// event.
	RPCResponseStatusCodeKey = upstream.RPCResponseStatusCodeKey
)

// RPCSystemNameGRPC is rpc.system.name="grpc".
var RPCSystemNameGRPC = upstream.RPCSystemNameGRPC

// Attribute keys of the audit namespace.
const (
	// AuditRequestIDKey: string, 32 lowercase hex characters generated per
	// request. A client's X-Request-Id is never trusted.
	AuditRequestIDKey = attribute.Key("audit.request_id")
	// AuditSchemaVersionKey: string, [SchemaVersion].
	AuditSchemaVersionKey = attribute.Key("audit.schema_version")
	// AuditActionKey: string, one of the Action* values (or an application's own).
	AuditActionKey = attribute.Key("audit.action")
	// AuditOutcomeKey: string, [OutcomeSuccess] or [OutcomeFailure].
	AuditOutcomeKey = attribute.Key("audit.outcome")
	// AuditReasonKey: string. A short, application-chosen reason, e.g.
	// "bad_password" for a failed login. Never a secret.
	AuditReasonKey = attribute.Key("audit.reason")
	// AuditDurationKey: int, the handler's duration in nanoseconds.
	AuditDurationKey = attribute.Key("audit.duration_ns")
	// AuditModelNameKey: string, the model (table, resource type) acted on.
	AuditModelNameKey = attribute.Key("audit.model.name")
	// AuditModelIDKey: string, the id of the record acted on.
	AuditModelIDKey = attribute.Key("audit.model.id")
	// AuditModelChangedFieldsKey: []string, the names of changed fields — never values.
	AuditModelChangedFieldsKey = attribute.Key("audit.model.changed_fields")
	// AuditModelBulkKey: bool, true on a model event about the rows a
	// condition chose rather than one identified record (an ORM's bulk
	// update or delete): audit.model.id is absent, and the changed fields
	// are the ones the statement set, prior values unknown.
	AuditModelBulkKey = attribute.Key("audit.model.bulk")
	// AuditModelRowsAffectedKey: int, on a bulk model event, how many rows
	// the statement changed.
	AuditModelRowsAffectedKey = attribute.Key("audit.model.rows_affected")
	// AuditRequestBodyKey: map. Opt-in capture of allowlisted top-level JSON
	// fields of the request body, scrubbed.
	AuditRequestBodyKey = attribute.Key("audit.request.body")
	// AuditRequestBodyParseStatusKey: string, why a body was not captured:
	// one of the BodyParse* values.
	AuditRequestBodyParseStatusKey = attribute.Key("audit.request.body.parse_status")
	// AuditRedactedCountKey: int, how many values the scrubber changed in
	// this record: attribute values, map and slice elements, the body and
	// secret map keys it renamed. A value counts once, whether it was
	// replaced whole (a sensitive key's value) or had one or more secrets
	// replaced inside it (detector hits, sensitive url.query parameters).
	// Added to any count already on the record; absent when nothing changed.
	AuditRedactedCountKey = attribute.Key("audit.redacted_count")
	// AuditEvidenceKey: string. On security.suspicious_request, what the
	// rule (security_rule.name) matched in the path or query: the matched
	// text widened to whole words, at most 64 runes ("…" marks a cut), e.g.
	// "' OR 1=1--" or "file=../../app.db". Client-controlled; scrubbed like
	// every attribute.
	AuditEvidenceKey = attribute.Key("audit.evidence")
	// AuditDetectCountKey: int. On security.alert, the events (or, for a
	// rule counting distinct values, the distinct values) the rule counted
	// in its window when it fired.
	AuditDetectCountKey = attribute.Key("audit.detect.count")
	// AuditDetectWindowKey: int. On security.alert, the rule's window in
	// seconds.
	AuditDetectWindowKey = attribute.Key("audit.detect.window_s")
	// AuditBlockScopeKey: string. On security.block.*, what the block
	// refuses: "address" (every request of client.address) or
	// "user_address" (logins of one user from client.address: a lockout).
	AuditBlockScopeKey = attribute.Key("audit.block.scope")
	// AuditBlockExpiresAtKey: string. On security.block.*, when the block
	// ends: RFC 3339 UTC with nanoseconds.
	AuditBlockExpiresAtKey = attribute.Key("audit.block.expires_at")
	// AuditBlockDurationKey: int. On security.block.*, the block's length
	// in seconds (rounded up).
	AuditBlockDurationKey = attribute.Key("audit.block.duration_s")
	// AuditBlockReasonKey: string. On security.block.applied, the reason
	// given to a manual block (absent for a rule's); on
	// security.block.lifted, why it ended: "expired", "lifted" or "evicted".
	AuditBlockReasonKey = attribute.Key("audit.block.reason")
	// AuditSampleRateKey: float, the sampling rate applied to a kept record.
	AuditSampleRateKey = attribute.Key("audit.sample_rate")

	// AuditPipelineNameKey: string, the delivery pipeline ("jsonl", "otlp").
	AuditPipelineNameKey = attribute.Key("audit.pipeline.name")
	// AuditPipelineDroppedCountKey: int, records lost since the previous summary.
	AuditPipelineDroppedCountKey = attribute.Key("audit.pipeline.dropped.count")
	// AuditPipelineDroppedTotalKey: int, records lost since the pipeline started.
	AuditPipelineDroppedTotalKey = attribute.Key("audit.pipeline.dropped.total")
	// AuditPipelineDroppedReasonsKey: map, reason → records lost since the previous summary.
	AuditPipelineDroppedReasonsKey = attribute.Key("audit.pipeline.dropped.reasons")
	// AuditPipelineDroppedEventsKey: map, event name → records lost since the previous summary.
	AuditPipelineDroppedEventsKey = attribute.Key("audit.pipeline.dropped.events")
	// AuditPipelineWindowStartKey: int, Unix ns, the start of the period a summary covers.
	AuditPipelineWindowStartKey = attribute.Key("audit.pipeline.window.start")
	// AuditPipelineDropReasonKey: string, why records were lost (a metric attribute).
	AuditPipelineDropReasonKey = attribute.Key("audit.pipeline.drop.reason")
	// AuditStreamIDKey: string, 32 hex digits, random per delivery pipeline
	// and process start: the stream whose records audit.sequence numbers.
	AuditStreamIDKey = attribute.Key("audit.stream.id")
	// AuditSequenceKey: int, the record's number in its stream, from 1,
	// given when the record is handed to its exporter; a gap is a record
	// lost after numbering (counted in audit.pipeline.dropped).
	AuditSequenceKey = attribute.Key("audit.sequence")
	// AuditChainReasonKey: string, why an audit.chain.restart marker was
	// written: "torn_tail" or "unchained_tail".
	AuditChainReasonKey = attribute.Key("audit.chain.reason")
	// AuditChainTornBytesKey: int, the bytes of the line the marker follows
	// (the torn or unchained line), without its newline.
	AuditChainTornBytesKey = attribute.Key("audit.chain.torn_bytes")
	// AuditChainResumeHashKey: string, 64 hex digits, the hash of the line
	// before the torn or unchained one (the chain's head before the break;
	// 64 zeros if none), so that the break hides no change to it.
	AuditChainResumeHashKey = attribute.Key("audit.chain.resume_hash")
	// EventNameKey: string, an event name as a metric attribute.
	EventNameKey = attribute.Key("event.name")
)

// JSONL envelope attribute names: the exporter writes these first inside
// "attributes", mirroring the reference's envelope.
const (
	// EnvelopeEventTypeKey equals the envelope's event_name.
	EnvelopeEventTypeKey = "event_type"
	// EnvelopeSchemaVersionKey is copied from [AuditSchemaVersionKey].
	EnvelopeSchemaVersionKey = "schema_version"
)

// JSONL envelope chain fields (SECAUDIT_JSONL_CHAIN): written last, after
// the trace fields, in this order.
const (
	// EnvelopeSeqKey: the line's number in the chain, from 1, continuing
	// across rotation and restarts.
	EnvelopeSeqKey = "seq"
	// EnvelopePrevHashKey: the SHA-256 of the previous line's bytes (its
	// newline included), 64 lowercase hex digits; 64 zeros on the first
	// line of a chain.
	EnvelopePrevHashKey = "prev_hash"
)

// Redacted is the replacement for a scrubbed value.
const Redacted = "[REDACTED]"

// Truncated marks a value shortened by a limit.
const Truncated = "[TRUNCATED]"

// IsSecurityEvent reports whether name is a security event (see
// ARCHITECTURE.md, Invariants): 4xx and 5xx responses, failed logins,
// authz.* and security.*.
// They are never sampled, and are the last records a full queue gives up.
func IsSecurityEvent(name string) bool {
	switch name {
	case EventHTTPResponseClientError, EventHTTPResponseServerError, EventLoginFailed:
		return true
	}
	return strings.HasPrefix(name, "authz.") || strings.HasPrefix(name, "security.")
}

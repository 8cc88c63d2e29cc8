// Package semconv is secaudit's event and attribute contract: every event name,
// record body, severity, attribute key and the schema version that secaudit
// emits, in one place, so a rename is a one-file change.
//
// Keys that OpenTelemetry's semantic conventions define are re-exported from
// go.opentelemetry.io/otel/semconv/v1.43.0 (client.address, user.id, http.route,
// …); keys without an upstream equivalent live in the "audit." namespace.
//
// The package name collides with the upstream semconv packages; import it as
//
//	auditconv "github.com/secaudit/secaudit/semconv"
//
// when both are needed.
//
// PII: keys marked PII below carry personal data (user ids, names, addresses).
// Never promote them to Loki index labels; pseudonymise them with the
// processor package's HMAC option where policy requires it.
package semconv

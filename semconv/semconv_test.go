package semconv_test

import (
	"regexp"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/log"

	"github.com/secaudit/secaudit/semconv"
)

func TestSeverityText(t *testing.T) {
	tests := []struct {
		sev  log.Severity
		want string
	}{
		{0, ""},
		{log.SeverityTrace1, "TRACE"},
		{log.SeverityDebug4, "DEBUG"},
		{semconv.SeverityInfo, "INFO"},
		{log.SeverityInfo4, "INFO"},
		{semconv.SeverityWarning, "WARNING"},
		{semconv.SeverityError, "ERROR"},
		{log.SeverityError4, "ERROR"},
		{semconv.SeverityCritical, "CRITICAL"},
		{log.SeverityFatal4, "CRITICAL"},
		{25, ""},
	}
	for _, tt := range tests {
		if got := semconv.SeverityText(tt.sev); got != tt.want {
			t.Errorf("SeverityText(%d) = %q, want %q", tt.sev, got, tt.want)
		}
	}
	if semconv.SeverityInfo != 9 || semconv.SeverityWarning != 13 || semconv.SeverityError != 17 || semconv.SeverityCritical != 21 {
		t.Fatal("severity numbers differ from the contract (9, 13, 17, 21)")
	}
}

// TestCatalogue pins the event names and keys that the contract (this
// package, the README's envelope) fixes; they are checked from outside the
// code too.
func TestCatalogue(t *testing.T) {
	events := map[string]string{
		semconv.EventHTTPResponseSuccess:     "http.response.success",
		semconv.EventHTTPResponseRedirect:    "http.response.redirect",
		semconv.EventHTTPResponseClientError: "http.response.client_error",
		semconv.EventHTTPResponseServerError: "http.response.server_error",
		semconv.EventLoginSuccess:            "auth.login.success",
		semconv.EventLoginFailed:             "auth.login.failed",
		semconv.EventLogoutSuccess:           "auth.logout.success",
		semconv.EventLogoutUnknown:           "auth.logout.unknown",
		semconv.EventModelCreate:             "model.create",
		semconv.EventModelUpdate:             "model.update",
		semconv.EventModelDelete:             "model.delete",
		semconv.EventModelAccess:             "model.access",
		semconv.EventAuthzDenied:             "authz.denied",
		semconv.EventRateLimited:             "security.rate_limited",
		semconv.EventBlockApplied:            "security.block.applied",
		semconv.EventBlockLifted:             "security.block.lifted",
		semconv.EventSignatureInvalid:        "security.signature_invalid",
		semconv.EventSuspiciousRequest:       "security.suspicious_request",
		semconv.EventMalformedRecord:         "audit.logging.malformed_record",
		semconv.EventAlert:                   "security.alert",
		semconv.EventChainRestart:            "audit.chain.restart",
	}
	name := regexp.MustCompile(`^[a-z]+(\.[a-z_]+)+$`)
	for got, want := range events {
		if got != want || !name.MatchString(got) {
			t.Errorf("event %q, want %q", got, want)
		}
	}
	keys := map[string]string{
		string(semconv.ClientAddressKey):           "client.address",
		string(semconv.NetworkPeerAddressKey):      "network.peer.address",
		string(semconv.UserIDKey):                  "user.id",
		string(semconv.UserNameKey):                "user.name",
		string(semconv.SessionIDKey):               "session.id",
		string(semconv.AuditRequestIDKey):          "audit.request_id",
		string(semconv.AuditSchemaVersionKey):      "audit.schema_version",
		string(semconv.AuditDurationKey):           "audit.duration_ns",
		string(semconv.AuditModelChangedFieldsKey): "audit.model.changed_fields",
		string(semconv.AuditRedactedCountKey):      "audit.redacted_count",
		string(semconv.HTTPRouteKey):               "http.route",
		string(semconv.URLFullKey):                 "url.full",
		string(semconv.URLQueryKey):                "url.query",
		string(semconv.AuditEvidenceKey):           "audit.evidence",
		string(semconv.SecurityRuleNameKey):        "security_rule.name",
		string(semconv.SecurityRuleCategoryKey):    "security_rule.category",
		string(semconv.AuditDetectCountKey):        "audit.detect.count",
		string(semconv.AuditDetectWindowKey):       "audit.detect.window_s",
		string(semconv.AuditBlockScopeKey):         "audit.block.scope",
		string(semconv.AuditBlockExpiresAtKey):     "audit.block.expires_at",
		string(semconv.AuditBlockDurationKey):      "audit.block.duration_s",
		string(semconv.AuditBlockReasonKey):        "audit.block.reason",
		string(semconv.AuditModelBulkKey):          "audit.model.bulk",
		string(semconv.AuditModelRowsAffectedKey):  "audit.model.rows_affected",
		string(semconv.RPCSystemNameKey):           "rpc.system.name",
		string(semconv.RPCMethodKey):               "rpc.method",
		string(semconv.RPCResponseStatusCodeKey):   "rpc.response.status_code",
		string(semconv.AuditStreamIDKey):           "audit.stream.id",
		string(semconv.AuditSequenceKey):           "audit.sequence",
		string(semconv.AuditChainReasonKey):        "audit.chain.reason",
		string(semconv.AuditChainTornBytesKey):     "audit.chain.torn_bytes",
		string(semconv.AuditChainResumeHashKey):    "audit.chain.resume_hash",
		semconv.EnvelopeSeqKey:                     "seq",
		semconv.EnvelopePrevHashKey:                "prev_hash",
	}
	for got, want := range keys {
		if got != want {
			t.Errorf("key %q, want %q", got, want)
		}
	}
	if semconv.SchemaVersion != "1.0" || !strings.HasPrefix(semconv.SchemaURL, "https://opentelemetry.io/schemas/") {
		t.Fatalf("schema %q %q", semconv.SchemaVersion, semconv.SchemaURL)
	}
}

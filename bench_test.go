package secaudit_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/semconv"
)

// BenchmarkEmit measures what the Auditor itself costs per event, up to the
// Logs API (a logger that discards the record): a typed call and the
// middleware's http.response event through Emit, each beside the same API
// record built by hand with the same attributes (the least any emitter of
// this record can do).
func BenchmarkEmit(b *testing.B) {
	a, err := secaudit.New(secaudit.WithLoggerProvider(discardProvider{}))
	if err != nil {
		b.Fatal(err)
	}
	req := &secaudit.Request{
		ID: "0123456789abcdef0123456789abcdef", ClientAddress: "203.0.113.7", PeerAddress: "203.0.113.7",
		Method: "GET", Path: "/api/accounts/42",
	}
	req.SetRoute("/api/accounts/{id}")
	req.SetUser(secaudit.User{ID: "42"})
	ctx := secaudit.ContextWithRequest(context.Background(), req)
	logger := discardLogger{}
	const ua = "Mozilla/5.0 (X11; Linux x86_64) bench/1.0"

	b.Run("login_failed", func(b *testing.B) {
		u := secaudit.User{ID: "42"}
		b.ReportAllocs()
		for b.Loop() {
			a.LoginFailed(ctx, u, "bad_password")
		}
	})
	b.Run("login_failed_by_hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r log.Record
			now := time.Now()
			r.SetTimestamp(now)
			r.SetObservedTimestamp(now)
			r.SetEventName(semconv.EventLoginFailed)
			r.SetSeverity(semconv.SeverityWarning)
			r.SetSeverityText(semconv.SeverityTextWarning)
			r.SetBody(attribute.StringValue(semconv.EventLoginFailed))
			r.AddAttributes(
				semconv.AuditSchemaVersionKey.String(semconv.SchemaVersion),
				semconv.AuditActionKey.String(semconv.ActionLogin),
				semconv.AuditOutcomeKey.String(semconv.OutcomeFailure),
				semconv.AuditReasonKey.String("bad_password"),
				semconv.UserIDKey.String("42"),
				semconv.AuditRequestIDKey.String(req.ID),
				semconv.ClientAddressKey.String(req.ClientAddress),
				semconv.NetworkPeerAddressKey.String(req.PeerAddress),
				semconv.HTTPRequestMethodKey.String(req.Method),
				semconv.URLPathKey.String(req.Path),
				semconv.HTTPRouteKey.String(req.Route()),
			)
			logger.Emit(ctx, r)
		}
	})
	b.Run("http_response", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = a.Emit(ctx, secaudit.Event{
				Name: semconv.EventHTTPResponseSuccess, Severity: semconv.SeverityInfo,
				Body: semconv.BodyHTTPResponse, Action: semconv.ActionResponse, Outcome: semconv.OutcomeSuccess,
				Attributes: []attribute.KeyValue{
					semconv.HTTPResponseStatusCodeKey.Int(200),
					semconv.URLFullKey.String("http://shop.example/api/accounts/42"),
					semconv.AuditDurationKey.Int64(1834567),
					semconv.UserAgentOriginalKey.String(ua),
				},
			})
		}
	})
	b.Run("http_response_by_hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r log.Record
			now := time.Now()
			r.SetTimestamp(now)
			r.SetObservedTimestamp(now)
			r.SetEventName(semconv.EventHTTPResponseSuccess)
			r.SetSeverity(semconv.SeverityInfo)
			r.SetSeverityText(semconv.SeverityTextInfo)
			r.SetBody(attribute.StringValue(semconv.BodyHTTPResponse))
			r.AddAttributes(
				semconv.AuditSchemaVersionKey.String(semconv.SchemaVersion),
				semconv.AuditActionKey.String(semconv.ActionResponse),
				semconv.AuditOutcomeKey.String(semconv.OutcomeSuccess),
				semconv.UserIDKey.String("42"),
				semconv.AuditRequestIDKey.String(req.ID),
				semconv.ClientAddressKey.String(req.ClientAddress),
				semconv.NetworkPeerAddressKey.String(req.PeerAddress),
				semconv.HTTPRequestMethodKey.String(req.Method),
				semconv.URLPathKey.String(req.Path),
				semconv.HTTPRouteKey.String(req.Route()),
				semconv.HTTPResponseStatusCodeKey.Int(200),
				semconv.URLFullKey.String("http://shop.example/api/accounts/42"),
				semconv.AuditDurationKey.Int64(1834567),
				semconv.UserAgentOriginalKey.String(ua),
			)
			logger.Emit(ctx, r)
		}
	})
}

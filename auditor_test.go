package secaudit_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/log/logtest"
	lognoop "go.opentelemetry.io/otel/log/noop"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
)

func newAuditor(t *testing.T, opts ...secaudit.Option) (*secaudit.Auditor, *logtest.Recorder) {
	t.Helper()
	rec := logtest.NewRecorder()
	a, err := secaudit.New(append([]secaudit.Option{secaudit.WithLoggerProvider(rec)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return a, rec
}

// only returns the single record the recorder holds, failing otherwise.
func only(t *testing.T, rec *logtest.Recorder) logtest.Record {
	t.Helper()
	var all []logtest.Record
	for scope, rs := range rec.Result() {
		if scope.Name != secaudit.ScopeName || scope.Version != secaudit.Version || scope.SchemaURL != semconv.SchemaURL {
			t.Fatalf("scope = %+v", scope)
		}
		all = append(all, rs...)
	}
	if len(all) != 1 {
		t.Fatalf("got %d records, want 1", len(all))
	}
	return all[0]
}

func schema() attribute.KeyValue {
	return semconv.AuditSchemaVersionKey.String(semconv.SchemaVersion)
}

// requestCtx returns a context with a real sdk/trace span and request facts.
func requestCtx(t *testing.T) (context.Context, trace.SpanContext, *secaudit.Request) {
	t.Helper()
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx, span := tp.Tracer("test").Start(context.Background(), "request")
	t.Cleanup(func() { span.End() })
	req := &secaudit.Request{
		ID: "0123456789abcdef0123456789abcdef", ClientAddress: "203.0.113.7", PeerAddress: "10.0.0.2",
		Method: "POST", Path: "/login",
	}
	req.SetRoute("/login")
	return secaudit.ContextWithRequest(ctx, req), span.SpanContext(), req
}

func requestAttrs() []attribute.KeyValue {
	return []attribute.KeyValue{
		semconv.AuditRequestIDKey.String("0123456789abcdef0123456789abcdef"),
		semconv.ClientAddressKey.String("203.0.113.7"),
		semconv.NetworkPeerAddressKey.String("10.0.0.2"),
		semconv.HTTPRequestMethodKey.String("POST"),
		semconv.URLPathKey.String("/login"),
		semconv.HTTPRouteKey.String("/login"),
	}
}

func TestAuditorCalls(t *testing.T) {
	alice := secaudit.User{ID: "1", Name: "alice"}
	acct := secaudit.Model{Name: "account", ID: "42"}
	extra := attribute.String("app.tenant", "t1")
	tests := []struct {
		name     string
		call     func(context.Context, *secaudit.Auditor)
		event    string
		severity log.Severity
		sevText  string
		body     string
		attrs    []attribute.KeyValue
	}{
		{
			name:  "login succeeded",
			call:  func(ctx context.Context, a *secaudit.Auditor) { a.LoginSucceeded(ctx, alice, extra) },
			event: semconv.EventLoginSuccess, severity: 9, sevText: "INFO", body: "auth.login.success",
			attrs: []attribute.KeyValue{schema(), semconv.AuditActionKey.String("login"), semconv.AuditOutcomeKey.String("success"),
				semconv.UserIDKey.String("1"), extra},
		},
		{
			name: "login failed carries reason, never the request user",
			call: func(ctx context.Context, a *secaudit.Auditor) {
				a.LoginFailed(ctx, secaudit.User{Name: "mallory"}, "bad_password")
			},
			event: semconv.EventLoginFailed, severity: 13, sevText: "WARNING", body: "auth.login.failed",
			attrs: []attribute.KeyValue{schema(), semconv.AuditActionKey.String("login"), semconv.AuditOutcomeKey.String("failure"),
				semconv.AuditReasonKey.String("bad_password")},
		},
		{
			name:  "logout with user",
			call:  func(ctx context.Context, a *secaudit.Auditor) { a.Logout(ctx, alice) },
			event: semconv.EventLogoutSuccess, severity: 9, sevText: "INFO", body: "auth.logout",
			attrs: []attribute.KeyValue{schema(), semconv.AuditActionKey.String("logout"), semconv.AuditOutcomeKey.String("success"),
				semconv.UserIDKey.String("1")},
		},
		{
			name:  "logout without user",
			call:  func(ctx context.Context, a *secaudit.Auditor) { a.Logout(ctx, secaudit.User{}) },
			event: semconv.EventLogoutUnknown, severity: 9, sevText: "INFO", body: "auth.logout",
			attrs: []attribute.KeyValue{schema(), semconv.AuditActionKey.String("logout")},
		},
		{
			name:  "model created",
			call:  func(ctx context.Context, a *secaudit.Auditor) { a.ModelCreated(ctx, acct) },
			event: semconv.EventModelCreate, severity: 9, sevText: "INFO", body: "model.event",
			attrs: []attribute.KeyValue{schema(), semconv.AuditActionKey.String("create"), semconv.AuditOutcomeKey.String("success"),
				semconv.AuditModelNameKey.String("account"), semconv.AuditModelIDKey.String("42")},
		},
		{
			name: "model updated with field names only",
			call: func(ctx context.Context, a *secaudit.Auditor) {
				a.ModelUpdated(ctx, secaudit.Model{Name: "account", ID: "42", ChangedFields: []string{"nickname", "", "email"}})
			},
			event: semconv.EventModelUpdate, severity: 9, sevText: "INFO", body: "model.event",
			attrs: []attribute.KeyValue{schema(), semconv.AuditActionKey.String("update"), semconv.AuditOutcomeKey.String("success"),
				semconv.AuditModelNameKey.String("account"), semconv.AuditModelIDKey.String("42"),
				semconv.AuditModelChangedFieldsKey.StringSlice([]string{"nickname", "email"})},
		},
		{
			name:  "model deleted",
			call:  func(ctx context.Context, a *secaudit.Auditor) { a.ModelDeleted(ctx, acct) },
			event: semconv.EventModelDelete, severity: 9, sevText: "INFO", body: "model.event",
			attrs: []attribute.KeyValue{schema(), semconv.AuditActionKey.String("delete"), semconv.AuditOutcomeKey.String("success"),
				semconv.AuditModelNameKey.String("account"), semconv.AuditModelIDKey.String("42")},
		},
		{
			name:  "model accessed",
			call:  func(ctx context.Context, a *secaudit.Auditor) { a.ModelAccessed(ctx, acct) },
			event: semconv.EventModelAccess, severity: 9, sevText: "INFO", body: "model.event",
			attrs: []attribute.KeyValue{schema(), semconv.AuditActionKey.String("access"), semconv.AuditOutcomeKey.String("success"),
				semconv.AuditModelNameKey.String("account"), semconv.AuditModelIDKey.String("42")},
		},
		{
			name:  "authz denied",
			call:  func(ctx context.Context, a *secaudit.Auditor) { a.AuthzDenied(ctx, acct, "not_owner") },
			event: semconv.EventAuthzDenied, severity: 13, sevText: "WARNING", body: "authz.denied",
			attrs: []attribute.KeyValue{schema(), semconv.AuditActionKey.String("authorize"), semconv.AuditOutcomeKey.String("failure"),
				semconv.AuditReasonKey.String("not_owner"), semconv.AuditModelNameKey.String("account"), semconv.AuditModelIDKey.String("42")},
		},
		{
			name:  "rate limited",
			call:  func(ctx context.Context, a *secaudit.Auditor) { a.RateLimited(ctx, "login_per_ip") },
			event: semconv.EventRateLimited, severity: 13, sevText: "WARNING", body: "security.rate_limited",
			attrs: []attribute.KeyValue{schema(), semconv.AuditActionKey.String("rate_limit"), semconv.AuditOutcomeKey.String("failure"),
				semconv.SecurityRuleNameKey.String("login_per_ip")},
		},
		{
			name:  "signature invalid",
			call:  func(ctx context.Context, a *secaudit.Auditor) { a.SignatureInvalid(ctx, "hmac_mismatch") },
			event: semconv.EventSignatureInvalid, severity: 13, sevText: "WARNING", body: "security.signature_invalid",
			attrs: []attribute.KeyValue{schema(), semconv.AuditActionKey.String("verify"), semconv.AuditOutcomeKey.String("failure"),
				semconv.AuditReasonKey.String("hmac_mismatch")},
		},
		{
			name:  "suspicious request",
			call:  func(ctx context.Context, a *secaudit.Auditor) { a.SuspiciousRequest(ctx, "path_traversal") },
			event: semconv.EventSuspiciousRequest, severity: 13, sevText: "WARNING", body: "security.suspicious_request",
			attrs: []attribute.KeyValue{schema(), semconv.AuditActionKey.String("inspect"), semconv.AuditOutcomeKey.String("failure"),
				semconv.SecurityRuleNameKey.String("path_traversal")},
		},
		{
			name: "custom event",
			call: func(ctx context.Context, a *secaudit.Auditor) {
				if err := a.Emit(ctx, secaudit.Event{Name: "security.mfa_disabled", Severity: semconv.SeverityCritical,
					Outcome: "success", Attributes: []attribute.KeyValue{extra}}); err != nil {
					t.Fatal(err)
				}
			},
			event: "security.mfa_disabled", severity: 21, sevText: "CRITICAL", body: "security.mfa_disabled",
			attrs: []attribute.KeyValue{schema(), semconv.AuditOutcomeKey.String("success"), extra},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, rec := newAuditor(t)
			ctx, sc, _ := requestCtx(t)
			before := time.Now()
			tt.call(ctx, a)
			got := only(t, rec)

			if got.EventName != tt.event || got.Severity != tt.severity || got.SeverityText != tt.sevText {
				t.Errorf("event %q severity %d %q, want %q %d %q", got.EventName, got.Severity, got.SeverityText, tt.event, tt.severity, tt.sevText)
			}
			if got.Body.AsString() != tt.body {
				t.Errorf("body %q, want %q", got.Body.AsString(), tt.body)
			}
			if got.Timestamp.Before(before) || got.Timestamp.After(time.Now()) || got.ObservedTimestamp.Before(got.Timestamp) {
				t.Errorf("timestamp %v observed %v not set at emit time", got.Timestamp, got.ObservedTimestamp)
			}
			if got := trace.SpanContextFromContext(got.Context); !got.Equal(sc) {
				t.Errorf("record context span %v, want %v", got, sc)
			}
			want := logtest.Record{
				EventName: tt.event, Severity: tt.severity, SeverityText: tt.sevText,
				Body: attribute.StringValue(tt.body), Attributes: append(append([]attribute.KeyValue{}, tt.attrs...), requestAttrs()...),
			}
			logtest.AssertEqual(t, want, got, logtest.Transform(func(r logtest.Record) logtest.Record {
				r = r.Clone()
				r.Context, r.Timestamp, r.ObservedTimestamp = nil, time.Time{}, time.Time{}
				return r
			}))
		})
	}
}

func TestLoginSetsRequestUser(t *testing.T) {
	a, rec := newAuditor(t)
	ctx, _, req := requestCtx(t)
	a.LoginSucceeded(ctx, secaudit.User{ID: "7", Name: "bob"})
	if got := req.User(); got.ID != "7" {
		t.Fatalf("request user = %+v, want id 7", got)
	}
	rec.Reset()
	a.ModelAccessed(ctx, secaudit.Model{Name: "account", ID: "2"})
	if !hasAttr(only(t, rec), semconv.UserIDKey.String("7")) {
		t.Fatal("later event of the request lacks the logged-in user.id")
	}
}

// TestUsernameGate runs SECAUDIT_INCLUDE_USERNAMES, the root package's one
// variable, through option > environment > default, an explicit false
// (the zero value) included.
func TestUsernameGate(t *testing.T) {
	tests := []struct {
		name string
		opts []secaudit.Option
		env  string
		want bool
	}{
		{"default off", nil, "", false},
		{"option on", []secaudit.Option{secaudit.WithUsernames(true)}, "", true},
		{"env on", nil, "true", true},
		{"env off", nil, "false", false},
		{"option beats env", []secaudit.Option{secaudit.WithUsernames(true)}, "false", true},
		{"explicit zero beats env", []secaudit.Option{secaudit.WithUsernames(false)}, "true", false},
		{"without env", []secaudit.Option{secaudit.WithoutEnv()}, "true", false},
		{"without env, option", []secaudit.Option{secaudit.WithoutEnv(), secaudit.WithUsernames(true)}, "false", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(secaudit.EnvIncludeUsernames, tt.env)
			a, rec := newAuditor(t, tt.opts...)
			a.LoginFailed(context.Background(), secaudit.User{Name: "alice"}, "bad_password")
			if got := hasAttr(only(t, rec), semconv.UserNameKey.String("alice")); got != tt.want {
				t.Fatalf("user.name present = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNewRejectsBadEnv(t *testing.T) {
	t.Setenv(secaudit.EnvIncludeUsernames, "perhaps")
	_, err := secaudit.New()
	if want := `secaudit: SECAUDIT_INCLUDE_USERNAMES="perhaps": want true or false`; err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
	if _, err := secaudit.New(secaudit.WithoutEnv()); err != nil {
		t.Fatalf("WithoutEnv: %v", err)
	}
}

func TestMisuseIsCountedNotPanicked(t *testing.T) {
	a, rec := newAuditor(t)
	ctx := context.Background()
	tests := []secaudit.Event{
		{Name: ""},
		{Name: "x", Severity: 25},
		{Name: "x", Severity: -1},
	}
	for _, e := range tests {
		if err := a.Emit(ctx, e); !errors.Is(err, secaudit.ErrInvalidEvent) {
			t.Errorf("Emit(%+v) = %v, want ErrInvalidEvent", e, err)
		}
	}
	if err := a.Emit(ctx, secaudit.Event{Name: "x", Attributes: []attribute.KeyValue{{Key: "", Value: attribute.StringValue("v")}}}); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.Result()[logtest.Scope{Name: secaudit.ScopeName, Version: secaudit.Version, SchemaURL: semconv.SchemaURL}]); n != 1 {
		t.Fatalf("emitted %d records, want 1", n)
	}
	if s := a.Stats(); s.Invalid != 4 || s.Emitted != 1 {
		t.Fatalf("stats %+v, want 4 invalid, 1 emitted", s)
	}
	// A nil context is tolerated.
	//lint:ignore SA1012 deliberate misuse: the Auditor must survive it
	a.LoginSucceeded(nil, secaudit.User{ID: "1"})
}

func TestNilAuditorIsNoop(t *testing.T) {
	var a *secaudit.Auditor
	ctx := context.Background()
	a.LoginSucceeded(ctx, secaudit.User{ID: "1"})
	a.LoginFailed(ctx, secaudit.User{}, "x")
	a.Logout(ctx, secaudit.User{})
	a.ModelCreated(ctx, secaudit.Model{})
	a.AuthzDenied(ctx, secaudit.Model{}, "")
	a.SuspiciousRequest(ctx, "")
	if err := a.Emit(ctx, secaudit.Event{}); err != nil {
		t.Fatal(err)
	}
	if a.Stats() != (secaudit.Stats{}) || a.UsernamesEnabled() {
		t.Fatal("nil auditor reports activity")
	}
}

type panicLogger struct{ *logtest.Recorder }

func (p panicLogger) Logger(string, ...log.LoggerOption) log.Logger { return panicking{} }

type panicking struct{ log.Logger }

func (panicking) Enabled(context.Context, log.EnabledParameters) bool { return true }
func (panicking) Emit(context.Context, log.Record)                    { panic("processor bug") }

func TestPanickingPipelineIsRecovered(t *testing.T) {
	a, err := secaudit.New(secaudit.WithLoggerProvider(panicLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	a.LoginSucceeded(context.Background(), secaudit.User{ID: "1"})
	if s := a.Stats(); s.Panics != 1 || s.Emitted != 0 {
		t.Fatalf("stats %+v, want 1 panic, 0 emitted", s)
	}
}

func TestDisabledLoggerSkipsWork(t *testing.T) {
	rec := logtest.NewRecorder(logtest.WithEnabledFunc(func(_ context.Context, p log.EnabledParameters) bool {
		return p.EventName != semconv.EventModelAccess
	}))
	a, err := secaudit.New(secaudit.WithLoggerProvider(rec))
	if err != nil {
		t.Fatal(err)
	}
	a.ModelAccessed(context.Background(), secaudit.Model{Name: "x"})
	a.ModelCreated(context.Background(), secaudit.Model{Name: "x"})
	if s := a.Stats(); s.Emitted != 1 {
		t.Fatalf("emitted %d, want 1 (access disabled)", s.Emitted)
	}
}

func TestExplicitAttributeOverridesRequestFact(t *testing.T) {
	a, rec := newAuditor(t)
	ctx, _, _ := requestCtx(t)
	a.Emit(ctx, secaudit.Event{Name: "custom", Attributes: []attribute.KeyValue{semconv.HTTPRouteKey.String("/custom")}})
	r := only(t, rec)
	n := 0
	for _, kv := range r.Attributes {
		if kv.Key == semconv.HTTPRouteKey {
			n++
			if kv.Value.AsString() != "/custom" {
				t.Fatalf("route %q", kv.Value.AsString())
			}
		}
	}
	if n != 1 {
		t.Fatalf("http.route appears %d times", n)
	}
}

func TestEmitAllocations(t *testing.T) {
	if testsupport.Race {
		t.Skip("allocation counts differ under -race")
	}
	a, err := secaudit.New(secaudit.WithLoggerProvider(discardProvider{}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, _, _ := requestCtx(t)
	u := secaudit.User{ID: "1"}
	allocs := testing.AllocsPerRun(200, func() { a.LoginFailed(ctx, u, "bad_password") })
	// The API record copies attributes beyond its 5 inline slots into one
	// heap slice; nothing else allocates.
	if allocs > 1 {
		t.Fatalf("LoginFailed allocates %.1f times, budget 1", allocs)
	}
}

func hasAttr(r logtest.Record, want attribute.KeyValue) bool {
	for _, kv := range r.Attributes {
		if kv.Key == want.Key && kv.Value == want.Value {
			return true
		}
	}
	return false
}

// TestDisabledProviderWarnsOnce: an Auditor whose provider records nothing
// (no pipeline was built) says so once, through the OTel error handler, on
// its first security event, and not for INFO events.
func TestDisabledProviderWarnsOnce(t *testing.T) {
	var got []string
	prev := otel.GetErrorHandler()
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { got = append(got, err.Error()) }))
	t.Cleanup(func() { otel.SetErrorHandler(prev) })

	a, err := secaudit.New(secaudit.WithLoggerProvider(lognoop.NewLoggerProvider()), secaudit.WithUsernames(false))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a.LoginSucceeded(ctx, secaudit.User{ID: "1"}) // INFO: no warning
	if len(got) != 0 {
		t.Fatalf("warned for an INFO event: %q", got)
	}
	for range 3 {
		a.LoginFailed(ctx, secaudit.User{Name: "mallory"}, "bad_password")
	}
	if len(got) != 1 || !strings.Contains(got[0], "auth.login.failed") || !strings.Contains(got[0], "setup.New") {
		t.Fatalf("warnings %q, want one naming the event and setup.New", got)
	}
}

// TestEventAttributesShadowAuditorKeys: an attribute of the event takes
// the place of each value the Auditor adds itself (the event's fields,
// the user, the request's facts): the record carries the key once, with
// the event's value.
func TestEventAttributesShadowAuditorKeys(t *testing.T) {
	m := secaudit.Model{Name: "account", ID: "1"}
	for _, k := range []attribute.Key{
		semconv.AuditActionKey, semconv.AuditOutcomeKey, semconv.AuditReasonKey, semconv.SecurityRuleNameKey,
		semconv.AuditModelNameKey, semconv.AuditModelIDKey, semconv.UserIDKey, semconv.UserNameKey,
		semconv.AuditRequestIDKey, semconv.ClientAddressKey, semconv.NetworkPeerAddressKey,
		semconv.HTTPRequestMethodKey, semconv.URLPathKey, semconv.HTTPRouteKey, semconv.SessionIDKey,
	} {
		t.Run(string(k), func(t *testing.T) {
			a, rec := newAuditor(t, secaudit.WithUsernames(true))
			ctx, _, req := requestCtx(t)
			req.SessionID = "s-1"
			req.SetUser(secaudit.User{ID: "7", Name: "alice"})
			own := k.String("own")
			switch k {
			case semconv.AuditReasonKey:
				a.AuthzDenied(ctx, m, "not_owner", own)
			case semconv.SecurityRuleNameKey:
				a.SuspiciousRequest(ctx, "sqli", own)
			default:
				if err := a.Emit(ctx, secaudit.Event{Name: "custom", Action: "act", Outcome: "success", Model: m,
					Attributes: []attribute.KeyValue{own}}); err != nil {
					t.Fatal(err)
				}
			}
			n := 0
			for _, kv := range only(t, rec).Attributes {
				if kv.Key == k {
					n++
					if kv.Value.AsString() != "own" {
						t.Errorf("%s = %q, want the event's", k, kv.Value.AsString())
					}
				}
			}
			if n != 1 {
				t.Errorf("%s appears %d times, want once", k, n)
			}
		})
	}
}

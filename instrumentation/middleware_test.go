package instrumentation

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/trace"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/internal/sampling"
	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
)

// otherMiddlewareKey is the context key of a middleware that is not ours.
type otherMiddlewareKey struct{}

func TestClassification(t *testing.T) {
	tests := []struct {
		status   int
		name     string
		severity log.Severity
		text     string
		outcome  string
	}{
		{101, semconv.EventHTTPResponseSuccess, semconv.SeverityInfo, "INFO", semconv.OutcomeSuccess},
		{200, semconv.EventHTTPResponseSuccess, semconv.SeverityInfo, "INFO", semconv.OutcomeSuccess},
		{204, semconv.EventHTTPResponseSuccess, semconv.SeverityInfo, "INFO", semconv.OutcomeSuccess},
		{301, semconv.EventHTTPResponseRedirect, semconv.SeverityInfo, "INFO", ""},
		{399, semconv.EventHTTPResponseRedirect, semconv.SeverityInfo, "INFO", ""},
		{400, semconv.EventHTTPResponseClientError, semconv.SeverityWarning, "WARNING", semconv.OutcomeFailure},
		{404, semconv.EventHTTPResponseClientError, semconv.SeverityWarning, "WARNING", semconv.OutcomeFailure},
		{499, semconv.EventHTTPResponseClientError, semconv.SeverityWarning, "WARNING", semconv.OutcomeFailure},
		{500, semconv.EventHTTPResponseServerError, semconv.SeverityError, "ERROR", semconv.OutcomeFailure},
		{503, semconv.EventHTTPResponseServerError, semconv.SeverityError, "ERROR", semconv.OutcomeFailure},
		{599, semconv.EventHTTPResponseServerError, semconv.SeverityError, "ERROR", semconv.OutcomeFailure},
	}
	h := newHarness(t, false, WithLogOKResponses(true))
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			h.serve(status(tt.status), httptest.NewRequest("GET", "/x", nil))
			r := h.only()
			if r.EventName != tt.name || r.Severity != tt.severity || r.SeverityText != tt.text {
				t.Fatalf("%d: got %s/%d/%s, want %s/%d/%s", tt.status, r.EventName, r.Severity, r.SeverityText, tt.name, tt.severity, tt.text)
			}
			if r.Body.AsString() != semconv.BodyHTTPResponse {
				t.Fatalf("body %q", r.Body.AsString())
			}
			a := attrsOf(r)
			if got := a[semconv.HTTPResponseStatusCodeKey].AsInt64(); got != int64(tt.status) {
				t.Fatalf("status attribute %d", got)
			}
			if a[semconv.AuditActionKey].AsString() != semconv.ActionResponse {
				t.Fatalf("action %v", a[semconv.AuditActionKey])
			}
			if got, ok := a[semconv.AuditOutcomeKey]; ok != (tt.outcome != "") || got.AsString() != tt.outcome {
				t.Fatalf("outcome %v (present %v), want %q", got, ok, tt.outcome)
			}
			if r.Timestamp.IsZero() {
				t.Fatal("no timestamp")
			}
		})
	}
}

func TestDefaultStatusIs200(t *testing.T) {
	h := newHarness(t, false, WithLogOKResponses(true))
	h.serve(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), httptest.NewRequest("GET", "/x", nil))
	if got := attrsOf(h.only())[semconv.HTTPResponseStatusCodeKey].AsInt64(); got != 200 {
		t.Fatalf("status %d, want 200 for a handler that writes nothing", got)
	}
}

func TestGatingOfOKResponses(t *testing.T) {
	tests := []struct {
		name     string
		opts     []Option
		status   int
		wantEmit bool
	}{
		{"200 off by default", nil, 200, false},
		{"302 off by default", nil, 302, false},
		{"404 always", nil, 404, true},
		{"500 always", nil, 500, true},
		{"200 when enabled", []Option{WithLogOKResponses(true)}, 200, true},
		{"200 rate 0", []Option{WithLogOKResponses(true), WithSampleRate(0)}, 200, false},
		{"302 rate 0", []Option{WithLogOKResponses(true), WithSampleRate(0)}, 302, false},
		{"401 never sampled", []Option{WithLogOKResponses(true), WithSampleRate(0)}, 401, true},
		{"502 never sampled", []Option{WithLogOKResponses(true), WithSampleRate(0)}, 502, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, false, tt.opts...)
			h.serve(status(tt.status), httptest.NewRequest("GET", "/x", nil))
			got := len(h.records())
			if (got == 1) != tt.wantEmit || got > 1 {
				t.Fatalf("%d records, want emit=%v", got, tt.wantEmit)
			}
			s := h.m.Stats()
			if s.Requests != 1 || s.Emitted+s.OKNotLogged+s.SampledOut+s.IgnoredStatus != 1 {
				t.Fatalf("stats %+v do not add up", s)
			}
		})
	}
}

// TestSamplingAgreesWithTraceDecision: with a span in the context, the
// middleware keeps exactly the OK events the process key keeps for the trace
// id, so the middleware and the sampling processor agree.
func TestSamplingAgreesWithTraceDecision(t *testing.T) {
	const rate = 0.5
	h := newHarness(t, false, WithLogOKResponses(true), WithSampleRate(rate))
	kept, dropped := 0, 0
	for i := range 200 {
		var tid trace.TraceID
		tid[0], tid[15], tid[8] = 1, byte(i), byte(i*37)
		sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled})
		req := httptest.NewRequest("GET", "/x", nil)
		req = req.WithContext(trace.ContextWithSpanContext(req.Context(), sc))
		h.serve(status(200), req)
		recs := h.records()
		want := sampling.ProcessKey().Keep(tid, rate, 0)
		if (len(recs) == 1) != want {
			t.Fatalf("trace %s: emitted %d, sampling.Keep = %v", tid, len(recs), want)
		}
		if want && attrsOf(recs[0])[semconv.AuditSampleRateKey] != attribute.Float64Value(rate) {
			t.Fatalf("kept event carries audit.sample_rate %v, want %v", attrsOf(recs[0])[semconv.AuditSampleRateKey], rate)
		}
		if want {
			kept++
		} else {
			dropped++
		}
	}
	if kept == 0 || dropped == 0 {
		t.Fatalf("kept %d dropped %d: the vector of trace ids does not exercise both sides", kept, dropped)
	}
	if s := h.m.Stats(); s.SampledOut != uint64(dropped) || s.Emitted != uint64(kept) {
		t.Fatalf("stats %+v, want %d sampled out and %d emitted", s, dropped, kept)
	}
}

func TestIgnoreRules(t *testing.T) {
	t.Run("paths", func(t *testing.T) {
		h := newHarness(t, false, WithLogOKResponses(true), WithIgnorePaths(`^/healthz$`, `^/static/`),
			WithRequestBodies(true), WithBodyFields("a"))
		var sawFacts bool
		next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sawFacts = secaudit.RequestFromContext(r.Context()) != nil
			w.WriteHeader(500)
		})
		for _, p := range []string{"/healthz", "/static/app.js"} {
			body := &trackingBody{r: strings.NewReader(`{"a":1}`)}
			req := httptest.NewRequest("POST", p, nil)
			req.Header.Set("Content-Type", "application/json")
			req.Body = body
			h.serve(next, req)
			if n := len(h.records()); n != 0 || sawFacts || body.n != 0 {
				t.Fatalf("%s: %d records, facts %v, body bytes read %d; want an untouched request", p, n, sawFacts, body.n)
			}
		}
		h.serve(next, httptest.NewRequest("GET", "/healthz/deep", nil))
		if n := len(h.records()); n != 1 || !sawFacts {
			t.Fatalf("/healthz/deep: %d records, facts %v; the anchored pattern must not match", n, sawFacts)
		}
		if s := h.m.Stats(); s.IgnoredPaths != 2 || s.Requests != 1 {
			t.Fatalf("stats %+v", s)
		}
	})
	// Patterns match the escaped path, as the request wrote it: an encoded
	// slash cannot make a request look like an ignored path that the
	// router does not take it to (/x/1%2F..%2Fhealthz is routed to
	// /x/{id}, not to /healthz).
	t.Run("escaped path", func(t *testing.T) {
		tests := []struct {
			target  string
			ignored bool
		}{
			{"/healthz", true},
			{"/x/1%2F..%2Fhealthz", false},
			{"/static/app.js", true},
			{"/static%2F..%2Fadmin", false},
			{"/api/static%2Fapp.js", false},
			{"/%68ealthz", false}, // not the text the pattern names: audited
		}
		h := newHarness(t, false, WithIgnorePaths(`/healthz$`, `^/static/`))
		for _, tt := range tests {
			h.serve(status(404), httptest.NewRequest("GET", tt.target, nil))
			if n := len(h.records()); (n == 0) != tt.ignored {
				t.Errorf("%s: %d records, want ignored %v", tt.target, n, tt.ignored)
			}
		}
	})
	t.Run("status codes, errors included", func(t *testing.T) {
		h := newHarness(t, false, WithLogOKResponses(true), WithIgnoreStatusCodes(302, 404, 503))
		for _, code := range []int{302, 404, 503} {
			h.serve(status(code), httptest.NewRequest("GET", "/x", nil))
		}
		if n := len(h.records()); n != 0 {
			t.Fatalf("%d records for ignored statuses", n)
		}
		h.serve(status(500), httptest.NewRequest("GET", "/x", nil))
		if r := h.only(); r.EventName != semconv.EventHTTPResponseServerError {
			t.Fatalf("500 gave %s", r.EventName)
		}
		if s := h.m.Stats(); s.IgnoredStatus != 3 || s.Emitted != 1 {
			t.Fatalf("stats %+v", s)
		}
	})
}

type trackingBody struct {
	r interface{ Read([]byte) (int, error) }
	n int
}

func (b *trackingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += n
	return n, err
}
func (b *trackingBody) Close() error { return nil }

func TestRequestFactsAndAttributes(t *testing.T) {
	h := newHarness(t, false, WithLogOKResponses(true))
	var inHandler *secaudit.Request
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inHandler = secaudit.RequestFromContext(r.Context())
		w.Write([]byte("ok"))
	})
	req := httptest.NewRequest("GET", "http://shop.example:8443/a%2Fb/c?token=secret&x=1", nil)
	req.RemoteAddr = "198.51.100.7:5555"
	req.Header.Set("User-Agent", "probe/1.0")
	req.Header.Set("X-Request-Id", "client-chosen")
	req.Header.Set("X-Forwarded-For", "6.6.6.6")
	h.serve(next, req)
	r := h.only()
	a := attrsOf(r)
	if inHandler == nil {
		t.Fatal("no request facts in the handler's context")
	}
	id := a[semconv.AuditRequestIDKey].AsString()
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id) || id != inHandler.ID {
		t.Fatalf("request id %q (handler saw %q)", id, inHandler.ID)
	}
	want := map[attribute.Key]string{
		semconv.ClientAddressKey:      "198.51.100.7",
		semconv.NetworkPeerAddressKey: "198.51.100.7",
		semconv.HTTPRequestMethodKey:  "GET",
		semconv.URLPathKey:            "/a/b/c",
		semconv.URLFullKey:            "http://shop.example:8443/a%2Fb/c",
		semconv.UserAgentOriginalKey:  "probe/1.0",
		semconv.AuditSchemaVersionKey: semconv.SchemaVersion,
	}
	for k, v := range want {
		if a[k].AsString() != v {
			t.Errorf("%s = %q, want %q", k, a[k].AsString(), v)
		}
	}
	if a[semconv.AuditDurationKey].AsInt64() <= 0 {
		t.Errorf("duration %v", a[semconv.AuditDurationKey])
	}
	for _, k := range []attribute.Key{semconv.HTTPRouteKey, semconv.UserIDKey, semconv.UserNameKey, semconv.SessionIDKey, semconv.ExceptionTypeKey, semconv.AuditRequestBodyKey} {
		if _, ok := a[k]; ok {
			t.Errorf("unexpected %s", k)
		}
	}

	// Another request gets another id; TLS makes url.full https.
	req2 := httptest.NewRequest("GET", "https://shop.example/", nil)
	req2.TLS = &tls.ConnectionState{}
	h.serve(next, req2)
	a2 := attrsOf(h.only())
	if a2[semconv.AuditRequestIDKey].AsString() == id {
		t.Fatal("request ids repeat")
	}
	if a2[semconv.URLFullKey].AsString() != "https://shop.example/" {
		t.Fatalf("url.full %q", a2[semconv.URLFullKey].AsString())
	}
	if _, ok := a2[semconv.UserAgentOriginalKey]; ok {
		t.Fatal("empty user agent emitted")
	}
}

func TestIdentityGating(t *testing.T) {
	tests := []struct {
		name      string
		usernames bool
		user      secaudit.User
		wantID    string
		wantName  string
	}{
		{"no user", false, secaudit.User{}, "", ""},
		{"id only, names off", false, secaudit.User{ID: "1", Name: "alice"}, "1", ""},
		{"names on", true, secaudit.User{ID: "1", Name: "alice"}, "1", "alice"},
		{"name without id, names off", false, secaudit.User{Name: "alice"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.usernames)
			// The user is resolved during the request (as an auth layer
			// or handler would), after the facts were created.
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !tt.user.IsZero() && !secaudit.SetUser(r.Context(), tt.user) {
					t.Error("SetUser found no request in the context")
				}
				w.WriteHeader(403)
			})
			h.serve(next, httptest.NewRequest("GET", "/x", nil))
			r := h.only()
			id, hasID := str(r, semconv.UserIDKey)
			name, hasName := str(r, semconv.UserNameKey)
			if id != tt.wantID || hasID != (tt.wantID != "") || name != tt.wantName || hasName != (tt.wantName != "") {
				t.Fatalf("user.id %q(%v) user.name %q(%v), want %q %q", id, hasID, name, hasName, tt.wantID, tt.wantName)
			}
		})
	}
}

// TestEventsInHandlerShareFacts: an auth event emitted by the handler
// carries the same request id, addresses and route as the response event.
func TestEventsInHandlerShareFacts(t *testing.T) {
	h := newHarness(t, false, WithLogOKResponses(true))
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login/{tenant}", func(w http.ResponseWriter, r *http.Request) {
		h.a.LoginSucceeded(r.Context(), secaudit.User{ID: "7"})
		w.WriteHeader(200)
	})
	req := httptest.NewRequest("POST", "/login/acme", nil)
	req.RemoteAddr = "192.0.2.9:1000"
	h.serve(mux, req)
	recs := h.records()
	if len(recs) != 2 || recs[0].EventName != semconv.EventLoginSuccess || recs[1].EventName != semconv.EventHTTPResponseSuccess {
		t.Fatalf("records %v", recs)
	}
	login, resp := attrsOf(recs[0]), attrsOf(recs[1])
	for _, k := range []attribute.Key{semconv.AuditRequestIDKey, semconv.ClientAddressKey, semconv.NetworkPeerAddressKey, semconv.HTTPRouteKey, semconv.UserIDKey, semconv.URLPathKey} {
		if login[k].AsString() == "" || login[k] != resp[k] {
			t.Errorf("%s: login %q, response %q", k, login[k].AsString(), resp[k].AsString())
		}
	}
	if resp[semconv.HTTPRouteKey].AsString() != "/login/{tenant}" {
		t.Fatalf("route %q", resp[semconv.HTTPRouteKey].AsString())
	}
}

func TestRoute(t *testing.T) {
	inner := http.NewServeMux()
	inner.HandleFunc("GET /api/accounts/{id}", func(w http.ResponseWriter, r *http.Request) {})
	outer := http.NewServeMux()
	outer.Handle("/api/", inner)
	outer.HandleFunc("GET example.com/hosted/{x...}", func(w http.ResponseWriter, r *http.Request) {})
	outer.HandleFunc("/custom", func(w http.ResponseWriter, r *http.Request) {
		secaudit.RequestFromContext(r.Context()).SetRoute("/custom/{set-by-app}")
	})
	wrapped := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A middleware between the audit middleware and the mux: the mux
		// sets the pattern on a copy the audit middleware never sees.
		outer.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), otherMiddlewareKey{}, 1)))
	})
	tests := []struct {
		name   string
		next   http.Handler
		opts   []Option
		target string
		want   string
	}{
		{"nested mux: innermost pattern", outer, nil, "/api/accounts/9", "/api/accounts/{id}"},
		{"host pattern: path part", outer, nil, "http://example.com/hosted/a/b", "/hosted/{x...}"},
		{"no match: no route", outer, nil, "/nope", ""},
		{"app SetRoute wins", outer, nil, "/custom", "/custom/{set-by-app}"},
		{"pattern on a copy is lost", wrapped, nil, "/api/accounts/9", ""},
		{"route func", wrapped, []Option{WithRouteFunc(func(r *http.Request) string { return "/from/func" })}, "/api/accounts/9", "/from/func"},
		{"empty route func result falls back", outer, []Option{WithRouteFunc(func(r *http.Request) string { return "" })}, "/api/accounts/9", "/api/accounts/{id}"},
		{"panicking route func", outer, []Option{WithRouteFunc(func(r *http.Request) string { panic("router bug") })}, "/api/accounts/9", "/api/accounts/{id}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, false, append([]Option{WithLogOKResponses(true)}, tt.opts...)...)
			h.serve(tt.next, httptest.NewRequest("GET", tt.target, nil))
			got, ok := str(h.only(), semconv.HTTPRouteKey)
			if got != tt.want || ok != (tt.want != "") {
				t.Fatalf("route %q (present %v), want %q", got, ok, tt.want)
			}
		})
	}
}

// TestRouteKnownDuringHandler: with a ServeMux as the wrapped handler, an
// event the handler emits already carries the route.
func TestRouteKnownDuringHandler(t *testing.T) {
	h := newHarness(t, false)
	mux := http.NewServeMux()
	mux.HandleFunc("DELETE /api/accounts/{id}", func(w http.ResponseWriter, r *http.Request) {
		h.a.ModelDeleted(r.Context(), secaudit.Model{Name: "account", ID: r.PathValue("id")})
	})
	h.serve(mux, httptest.NewRequest("DELETE", "/api/accounts/3", nil))
	r := h.only()
	if got, _ := str(r, semconv.HTTPRouteKey); r.EventName != semconv.EventModelDelete || got != "/api/accounts/{id}" {
		t.Fatalf("%s route %q", r.EventName, got)
	}
}

// Panic values whose formatting panics.
type (
	errorPanics       string
	errorPanicsAgain  struct{}
	stringPanicsAgain struct{}
)

func (e errorPanics) Error() string      { panic(string(e)) }
func (errorPanicsAgain) Error() string   { panic(errorPanicsAgain{}) }
func (stringPanicsAgain) String() string { panic(stringPanicsAgain{}) }

func TestPanickingHandler(t *testing.T) {
	errBoom := errors.New("db password=hunter2 unreachable")
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		wantEvent  string
		wantStatus int64
		wantType   string
		wantMsg    string
	}{
		{"string", func(w http.ResponseWriter, r *http.Request) { panic("boom") }, semconv.EventHTTPResponseServerError, 500, "string", "boom"},
		{"error", func(w http.ResponseWriter, r *http.Request) { panic(errBoom) }, semconv.EventHTTPResponseServerError, 500, "*errors.errorString", errBoom.Error()},
		{"after headers", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200); panic(42) }, semconv.EventHTTPResponseServerError, 200, "int", "42"},
		{"runtime error", func(w http.ResponseWriter, r *http.Request) {
			var m map[string]int
			//lint:ignore SA5000 the handler must panic with a runtime error
			m["x"] = 1
		}, semconv.EventHTTPResponseServerError, 500, "runtime.plainError", "assignment to entry in nil map"},
		{"ErrAbortHandler is not an error", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200); panic(http.ErrAbortHandler) }, "", 200, "", ""},
		// fmt recovers a panicking Error or String method, but panics
		// again when the value that method panicked with panics too.
		{"Error method panics", func(w http.ResponseWriter, r *http.Request) { panic(errorPanics("oops")) }, semconv.EventHTTPResponseServerError, 500,
			"instrumentation.errorPanics", "%!v(PANIC=Error method: oops)"},
		{"Error method panics with itself", func(w http.ResponseWriter, r *http.Request) { panic(errorPanicsAgain{}) }, semconv.EventHTTPResponseServerError, 500,
			"instrumentation.errorPanicsAgain", "(panic while formatting the panic value)"},
		{"String method panics with itself", func(w http.ResponseWriter, r *http.Request) { panic(stringPanicsAgain{}) }, semconv.EventHTTPResponseServerError, 500,
			"instrumentation.stringPanicsAgain", "(panic while formatting the panic value)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, false)
			var recovered any
			func() {
				defer func() { recovered = recover() }()
				h.serve(tt.handler, httptest.NewRequest("GET", "/panic", nil))
			}()
			if recovered == nil {
				t.Fatal("the panic did not continue past the middleware")
			}
			recs := h.records()
			if tt.wantEvent == "" {
				if len(recs) != 0 || h.m.Stats().Panics != 0 {
					t.Fatalf("ErrAbortHandler audited as %v, stats %+v", recs, h.m.Stats())
				}
				return
			}
			if len(recs) != 1 {
				t.Fatalf("%d records", len(recs))
			}
			r := recs[0]
			a := attrsOf(r)
			if r.EventName != tt.wantEvent || a[semconv.HTTPResponseStatusCodeKey].AsInt64() != tt.wantStatus {
				t.Fatalf("%s status %d", r.EventName, a[semconv.HTTPResponseStatusCodeKey].AsInt64())
			}
			if a[semconv.ExceptionTypeKey].AsString() != tt.wantType || a[semconv.ExceptionMessageKey].AsString() != tt.wantMsg {
				t.Fatalf("exception %q %q", a[semconv.ExceptionTypeKey].AsString(), a[semconv.ExceptionMessageKey].AsString())
			}
			if st := a[semconv.ExceptionStacktraceKey].AsString(); !strings.Contains(st, "TestPanickingHandler") {
				t.Fatalf("stack trace does not show the panicking handler:\n%s", st)
			}
			if h.m.Stats().Panics != 1 {
				t.Fatalf("stats %+v", h.m.Stats())
			}
		})
	}
}

func TestSessionIDs(t *testing.T) {
	src := SessionIDFunc(func(r *http.Request) string {
		if c, err := r.Cookie("audit"); err == nil {
			return c.Value
		}
		return ""
	})
	login := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.AddCookie(&http.Cookie{Name: "audit", Value: "minted-at-login"}) // the app's session store, simplified
		w.WriteHeader(200)
	})
	tests := []struct {
		name    string
		opts    []Option
		env     string
		cookie  string
		handler http.Handler
		want    string
	}{
		{"no source", nil, "", "abc", status(200), ""},
		{"source", []Option{WithSessionIDSource(src)}, "", "abc", status(200), "abc"},
		{"source, none yet", []Option{WithSessionIDSource(src)}, "", "", status(200), ""},
		{"minted during the request", []Option{WithSessionIDSource(src)}, "", "", login, "minted-at-login"},
		{"env off", []Option{WithSessionIDSource(src)}, "false", "abc", status(200), ""},
		{"option beats env", []Option{WithSessionIDSource(src), WithSessionIDs(true)}, "false", "abc", status(200), "abc"},
		{"option off", []Option{WithSessionIDSource(src), WithSessionIDs(false)}, "", "abc", status(200), ""},
		{"panicking source", []Option{WithSessionIDSource(SessionIDFunc(func(*http.Request) string { panic("x") }))}, "", "abc", status(200), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			t.Setenv("SECAUDIT_EMIT_SESSION_ID", tt.env)
			rec := newRecorderAuditor(t)
			m, err := New(append([]Option{WithAuditor(rec.a), WithLogOKResponses(true)}, tt.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			h := &harness{t: t, m: m, rec: rec.rec, a: rec.a}
			req := httptest.NewRequest("GET", "/x", nil)
			if tt.cookie != "" {
				req.AddCookie(&http.Cookie{Name: "audit", Value: tt.cookie})
			}
			h.serve(tt.handler, req)
			got, ok := str(h.only(), semconv.SessionIDKey)
			if got != tt.want || ok != (tt.want != "") {
				t.Fatalf("session.id %q (present %v), want %q", got, ok, tt.want)
			}
		})
	}
}

func TestSuspiciousRequests(t *testing.T) {
	h := newHarness(t, false, WithSuspiciousRequests(true))
	h.serve(status(404), httptest.NewRequest("GET", "/wp-admin/install.php", nil))
	recs := h.records()
	if len(recs) != 2 || recs[0].EventName != semconv.EventSuspiciousRequest || recs[1].EventName != semconv.EventHTTPResponseClientError {
		t.Fatalf("records %v", recs)
	}
	a := attrsOf(recs[0])
	if a[semconv.SecurityRuleNameKey].AsString() != "php_probe" || recs[0].Severity != semconv.SeverityWarning {
		t.Fatalf("rule %q severity %d", a[semconv.SecurityRuleNameKey].AsString(), recs[0].Severity)
	}
	if a[semconv.AuditRequestIDKey] != attrsOf(recs[1])[semconv.AuditRequestIDKey] {
		t.Fatal("suspicious event has another request id")
	}
	// Clean requests and the option off flag nothing.
	h.serve(status(200), httptest.NewRequest("GET", "/api/items?sort=name", nil))
	if n := len(h.records()); n != 0 {
		t.Fatalf("clean request flagged: %d records", n)
	}
	off := newHarness(t, false)
	off.serve(status(200), httptest.NewRequest("GET", "/.env", nil))
	if n := len(off.records()); n != 0 {
		t.Fatalf("flagged with the option off: %d records", n)
	}
	if h.m.Stats().Suspicious != 1 {
		t.Fatalf("stats %+v", h.m.Stats())
	}
}

func TestNilAndZero(t *testing.T) {
	var m *Middleware
	next := status(200)
	if got := m.Wrap(next); got == nil {
		t.Fatal("nil Middleware wrapped to nil")
	}
	if m.Stats() != (Stats{}) {
		t.Fatal("nil Middleware has stats")
	}
	// A zero Middleware audits into no Auditor without failing.
	var z Middleware
	w := httptest.NewRecorder()
	z.Wrap(status(500)).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != 500 || z.Stats().Requests != 1 {
		t.Fatalf("zero Middleware: code %d stats %+v", w.Code, z.Stats())
	}
}

func TestMiddlewareConcurrentSafe(t *testing.T) {
	h := newHarness(t, true, WithLogOKResponses(true), WithSampleRate(0.5), WithSuspiciousRequests(true),
		WithRequestBodies(true), WithBodyFields("a"), WithTrustedProxies([]string{"10.0.0.0/8"}, 1))
	mux := http.NewServeMux()
	mux.HandleFunc("/items/{id}", func(w http.ResponseWriter, r *http.Request) {
		secaudit.SetUser(r.Context(), secaudit.User{ID: r.PathValue("id")})
		w.WriteHeader(404)
	})
	handler := h.m.Wrap(mux)
	goroutines := testsupport.Snapshot()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				req := httptest.NewRequest("POST", "/items/"+string(rune('a'+g)), strings.NewReader(`{"a":1}`))
				req.Header.Set("Content-Type", "application/json")
				req.RemoteAddr = "10.0.0.1:1"
				req.Header.Set("X-Forwarded-For", "203.0.113.1")
				_ = i
				handler.ServeHTTP(httptest.NewRecorder(), req)
			}
		}()
	}
	wg.Wait()
	recs := h.records()
	if len(recs) != 400 {
		t.Fatalf("%d records, want 400", len(recs))
	}
	for _, r := range recs {
		a := attrsOf(r)
		if a[semconv.ClientAddressKey].AsString() != "203.0.113.1" || a[semconv.UserIDKey].AsString() == "" {
			t.Fatalf("record %v", r.Attributes)
		}
	}
	goroutines.Check(t)
}

// TestHandlerRewritesDoNotChangeFacts: a handler (or inner router) that
// rewrites its request in place does not change what the event reports,
// whichever way it changes the header map (the middleware keeps the
// request's own User-Agent element, not a copy) or the URL.
func TestHandlerRewritesDoNotChangeFacts(t *testing.T) {
	headerRewrites := []struct {
		name    string
		rewrite func(h http.Header)
	}{
		{"set", func(h http.Header) { h.Set("User-Agent", "changed") }},
		{"del", func(h http.Header) { h.Del("User-Agent") }},
		{"add", func(h http.Header) { h.Add("User-Agent", "changed") }},
		{"del and add", func(h http.Header) { h.Del("User-Agent"); h.Add("User-Agent", "changed") }},
	}
	for _, tt := range headerRewrites {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, false, WithURLQuery(true))
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				r.URL.Path = "/rewritten"
				r.URL.RawPath = ""
				r.URL.RawQuery = "changed=1"
				r.Host = "internal"
				tt.rewrite(r.Header)
				w.WriteHeader(404)
			})
			req := httptest.NewRequest("GET", "http://shop.example/orig/path?q=1", nil)
			req.Header.Set("User-Agent", "original")
			h.serve(next, req)
			a := attrsOf(h.only())
			if a[semconv.URLFullKey].AsString() != "http://shop.example/orig/path" || a[semconv.URLPathKey].AsString() != "/orig/path" ||
				a[semconv.UserAgentOriginalKey].AsString() != "original" || a[semconv.URLQueryKey].AsString() != "q=1" {
				t.Fatalf("attributes follow the handler's rewrite: %v", a)
			}
			if h.m.Stats().AuditPanics != 0 {
				t.Fatal("audit panicked")
			}
		})
	}
}

// TestQuietWithRareFacts: an OK response whose request has facts kept out
// of the exchange that yield no event of their own (a query, an unusual
// escaping) is not audited while OK responses are not, and is counted.
func TestQuietWithRareFacts(t *testing.T) {
	h := newHarness(t, false, WithURLQuery(true))
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	for _, target := range []string{"/a?q=1", "/a%2Fb", "/a%2Fb?q=1", "/a"} {
		h.serve(ok, httptest.NewRequest("GET", target, nil))
	}
	if n := len(h.records()); n != 0 {
		t.Fatalf("%d events for OK responses while they are not audited", n)
	}
	if st := h.m.Stats(); st.OKNotLogged != 4 || st.Requests != 4 {
		t.Fatalf("stats %+v, want 4 requests, 4 OK not logged", st)
	}
}

// TestSampleRateOnlyWhenSampled: audit.sample_rate is on OK events kept by
// sampling, never on events sampling does not apply to or at rate 1.
func TestSampleRateOnlyWhenSampled(t *testing.T) {
	tests := []struct {
		name   string
		rate   float64
		status int
	}{
		{"rate 1", 1, 200},
		{"client error at rate 0.5", 0.5, 404},
		{"server error at rate 0.5", 0.5, 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, false, WithLogOKResponses(true), WithSampleRate(tt.rate))
			h.serve(status(tt.status), httptest.NewRequest("GET", "/x", nil))
			recs := h.records()
			if len(recs) != 1 {
				t.Fatalf("%d events", len(recs))
			}
			if v, ok := attrsOf(recs[0])[semconv.AuditSampleRateKey]; ok {
				t.Fatalf("audit.sample_rate = %v on an event not sampled", v)
			}
		})
	}
}

// TestHandlerContext: the context the handler gets is the request's, with
// the request facts: its values, deadline and cancellation reach the
// handler and the contexts it derives (with the cause, and no goroutine of
// their own), and of two stacked middlewares the inner one's facts win.
func TestHandlerContext(t *testing.T) {
	h := newHarness(t, false)
	type probeKey struct{}
	parent, cancel := context.WithCancelCause(context.WithValue(context.Background(), probeKey{}, "outer value"))
	defer cancel(nil)

	var outerID string
	checked := false
	inner := h.m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		req := secaudit.RequestFromContext(ctx)
		if req == nil || req.ID == "" || req.ID == outerID {
			t.Errorf("inner handler's request facts %+v; want the inner middleware's own (outer id %q)", req, outerID)
		}
		if ctx.Value(probeKey{}) != "outer value" {
			t.Errorf("a value of the request's context is lost: %v", ctx.Value(probeKey{}))
		}
		goroutines := testsupport.Snapshot()
		derived, stop := context.WithCancel(ctx)
		defer stop()
		goroutines.Check(t) // deriving from the handler's context starts none
		cancel(errors.New("client went away"))
		select {
		case <-derived.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("cancelling the request's context did not reach a context derived in the handler")
		}
		if cause := context.Cause(derived); cause == nil || cause.Error() != "client went away" {
			t.Errorf("Cause = %v, want the request context's cause", cause)
		}
		checked = true
	}))
	outer := h.m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		outerID = secaudit.RequestFromContext(r.Context()).ID
		inner.ServeHTTP(w, r)
	}))
	outer.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil).WithContext(parent))
	if !checked {
		t.Fatal("the inner handler did not run")
	}
}

package testsupport

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/propagation"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/secaudit/secaudit/semconv"
)

// RouterApp is a router under the conformance table of [RouterConformance]:
// the application of [RouterParts] served through the router and its audit
// adapter, in the router's own idiom.
type RouterApp struct {
	// Route is the router's pattern of the account route, in its own
	// syntax: "/accounts/{id}" for chi, "/accounts/:id" for gin and echo.
	Route string
	// Build returns the router serving p: p.Auth as the router's own
	// middleware (or around it), p.Account on GET Route and p.Panic on
	// GET /panic, with the adapter wired as its documentation says. A
	// method other than GET on the account route must be answered 405.
	Build func(t testing.TB, p RouterParts) http.Handler
	// RoutedBeforeAuth: a request that the authentication refuses (401)
	// carries the route, because the router matches before the
	// authentication runs, or the adapter finds the route of a request
	// answered before routing.
	RoutedBeforeAuth bool
	// AuthOnUnmatched: the authentication runs for requests the router
	// does not match (404, 405), so their events carry the user.
	AuthOnUnmatched bool
}

// RouterParts are the pieces of the application a [RouterApp] serves.
type RouterParts struct {
	// Auth is the authentication middleware: a request without an
	// Authorization header is answered 401 after one event; the user of
	// any other is the header's value ([RouterUser] in the table).
	Auth func(http.Handler) http.Handler
	// Account serves GET /accounts/{id}: one event, then 200, 403 for the
	// id "locked" and 404 for the id "missing".
	Account http.Handler
	// Panic serves GET /panic: one event, then a panic.
	Panic http.Handler
}

// RouterKit is what the table needs of the event API and the middleware,
// which this package cannot import: each router's test builds it.
type RouterKit struct {
	// Audit returns the audit middleware (instrumentation.New) recording
	// through lp, with OK responses logged, without the environment and
	// with [RouterGuard] as its guard, and a function that emits one
	// model.access event with a context through the same Auditor.
	Audit func(t testing.TB, lp log.LoggerProvider) (wrap func(http.Handler) http.Handler, emit func(context.Context))
	// SetUser names the acting user of the request in ctx (secaudit.SetUser).
	SetUser func(ctx context.Context, id string)
}

// RouterUser is the user the table's authenticated requests name.
const RouterUser = "u-1"

// RouterRefusedAddress is the client address [RouterGuard] refuses.
const RouterRefusedAddress = "192.0.2.99"

// RouterGuard is the table's guard: it refuses [RouterRefusedAddress] for
// a minute (instrumentation.Guard).
type RouterGuard struct{}

// RefuseAddress refuses RouterRefusedAddress.
func (RouterGuard) RefuseAddress(addr string) (refused bool, retryAfter time.Duration, rule, scope string) {
	if addr == RouterRefusedAddress {
		return true, time.Minute, "manual", "address"
	}
	return false, 0, "", ""
}

// RouterConformance runs the router conformance table through app, with
// otelhttp around the audit middleware around the router: for each outcome
// (200; 401 from the authentication before the handler; 403 and 404 from
// the handler; 404 and 405 the router did not match; 429 from the guard; a
// panic) the status, the events in order, and on every event of the
// request the route (the router's pattern, none for what it did not match
// or did not route), the user, the request id and the trace of the
// server span.
func RouterConformance(t *testing.T, app RouterApp, kit RouterKit) {
	t.Helper()
	const access = semconv.EventModelAccess
	tests := []struct {
		name    string
		method  string
		path    string
		auth    bool
		remote  string
		status  int
		events  []string
		route   string // "" for none; "app" for app.Route
		user    bool
		panics  bool
		routeIf *bool // the route only when this is true
		userIf  *bool // the user only when this is true
	}{
		{name: "200", method: "GET", path: "/accounts/7", auth: true, status: 200,
			events: []string{access, semconv.EventHTTPResponseSuccess}, route: "app", user: true},
		{name: "401 before the handler", method: "GET", path: "/accounts/7", status: 401,
			events: []string{access, semconv.EventHTTPResponseClientError}, route: "app", routeIf: &app.RoutedBeforeAuth},
		{name: "403 from the handler", method: "GET", path: "/accounts/locked", auth: true, status: 403,
			events: []string{access, semconv.EventHTTPResponseClientError}, route: "app", user: true},
		{name: "404 from the handler", method: "GET", path: "/accounts/missing", auth: true, status: 404,
			events: []string{access, semconv.EventHTTPResponseClientError}, route: "app", user: true},
		{name: "404 unmatched", method: "GET", path: "/nowhere/7", auth: true, status: 404,
			events: []string{semconv.EventHTTPResponseClientError}, user: true, userIf: &app.AuthOnUnmatched},
		{name: "405 unmatched", method: "DELETE", path: "/accounts/7", auth: true, status: 405,
			events: []string{semconv.EventHTTPResponseClientError}, user: true, userIf: &app.AuthOnUnmatched},
		{name: "429 from the guard", method: "GET", path: "/accounts/7", auth: true, remote: RouterRefusedAddress, status: 429,
			events: []string{semconv.EventHTTPResponseClientError}},
		{name: "panic", method: "GET", path: "/panic", auth: true, status: 500, panics: true,
			events: []string{access, semconv.EventHTTPResponseServerError}, route: "/panic", user: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ClearEnv(t)
			capture := &Capture{}
			lp := NewProvider(capture)
			spans := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
			t.Cleanup(func() {
				_ = tp.Shutdown(context.Background())
				_ = lp.Shutdown(context.Background())
			})
			wrap, emit := kit.Audit(t, lp)
			parts := RouterParts{
				Auth: func(next http.Handler) http.Handler {
					return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						id := r.Header.Get("Authorization")
						if id == "" {
							emit(r.Context())
							http.Error(w, "unauthenticated", http.StatusUnauthorized)
							return
						}
						kit.SetUser(r.Context(), id)
						// A copy of the request, as authentication middlewares
						// make to carry their own context values.
						next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), routerAuthKey{}, id)))
					})
				},
				Account: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					emit(r.Context())
					switch {
					case strings.HasSuffix(r.URL.Path, "/locked"):
						http.Error(w, "forbidden", http.StatusForbidden)
					case strings.HasSuffix(r.URL.Path, "/missing"):
						http.Error(w, "no such account", http.StatusNotFound)
					default:
						_, _ = w.Write([]byte("account"))
					}
				}),
				Panic: http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
					emit(r.Context())
					panic("handler bug")
				}),
			}
			h := otelhttp.NewHandler(wrap(app.Build(t, parts)), "server",
				otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(propagation.TraceContext{}))

			req := httptest.NewRequest(tt.method, tt.path, nil)
			if tt.auth {
				req.Header.Set("Authorization", RouterUser)
			}
			if tt.remote != "" {
				req.RemoteAddr = tt.remote + ":4711"
			}
			w := httptest.NewRecorder()
			panicked := serveRecovering(h, w, req)
			if panicked != tt.panics {
				t.Fatalf("panicked = %v, want %v", panicked, tt.panics)
			}
			if !tt.panics && w.Code != tt.status {
				t.Fatalf("status %d, want %d", w.Code, tt.status)
			}

			ended := spans.Ended()
			if len(ended) != 1 {
				t.Fatalf("%d spans ended, want the server span", len(ended))
			}
			sc := ended[0].SpanContext()
			route := tt.route
			if route == "app" {
				route = app.Route
			}
			if tt.routeIf != nil && !*tt.routeIf {
				route = ""
			}
			user := ""
			if tt.user && (tt.userIf == nil || *tt.userIf) {
				user = RouterUser
			}
			recs := capture.Records()
			var names []string
			for _, r := range recs {
				names = append(names, r.EventName())
			}
			if strings.Join(names, " ") != strings.Join(tt.events, " ") {
				t.Fatalf("events %v, want %v", names, tt.events)
			}
			requestID := ""
			for i := range recs {
				checkRouterEvent(t, &recs[i], route, user, tt.status, sc.TraceID().String(), &requestID)
			}
		})
	}
}

type routerAuthKey struct{}

// checkRouterEvent checks one event of a request of the table.
func checkRouterEvent(t *testing.T, r *sdklog.Record, route, user string, status int, traceID string, requestID *string) {
	t.Helper()
	attrs := AttrMap(r)
	name := r.EventName()
	if got := attrs[string(semconv.HTTPRouteKey)].AsString(); got != route {
		t.Errorf("%s: http.route = %q, want %q", name, got, route)
	}
	if got := attrs[string(semconv.UserIDKey)].AsString(); got != user {
		t.Errorf("%s: user.id = %q, want %q", name, got, user)
	}
	if got := r.TraceID().String(); got != traceID || !r.SpanID().IsValid() {
		t.Errorf("%s: trace_id %s (span %s), want the server span's trace %s", name, got, r.SpanID(), traceID)
	}
	id := attrs[string(semconv.AuditRequestIDKey)].AsString()
	switch {
	case id == "":
		t.Errorf("%s: no audit.request_id", name)
	case *requestID == "":
		*requestID = id
	case id != *requestID:
		t.Errorf("%s: audit.request_id %s, want the request's %s", name, id, *requestID)
	}
	if strings.HasPrefix(name, "http.response.") {
		if got := attrs[string(semconv.HTTPResponseStatusCodeKey)].AsInt64(); got != int64(status) {
			t.Errorf("%s: http.response.status_code = %d, want %d", name, got, status)
		}
	}
	if name == semconv.EventHTTPResponseServerError {
		if got := attrs[string(semconv.ExceptionMessageKey)].AsString(); got != "handler bug" {
			t.Errorf("%s: exception.message = %q, want the panic's", name, got)
		}
	}
}

// serveRecovering serves req and reports whether h panicked.
func serveRecovering(h http.Handler, w http.ResponseWriter, req *http.Request) (panicked bool) {
	defer func() {
		if recover() != nil {
			panicked = true
		}
	}()
	h.ServeHTTP(w, req)
	return false
}

// RouterLayout is one layout of the routes of a [RouterApp]: flat, or in a
// nested router.
type RouterLayout struct {
	// Name names the layout's subtest: "flat", "mounted".
	Name string
	// Build is the layout's [RouterApp.Build].
	Build func(p RouterParts) http.Handler
}

// RouterConformanceLayouts runs [RouterConformance] for each layout, in a
// subtest of the layout's name, with app built by the layout (app.Build is
// not used).
func RouterConformanceLayouts(t *testing.T, app RouterApp, kit RouterKit, layouts ...RouterLayout) {
	t.Helper()
	for _, l := range layouts {
		t.Run(l.Name, func(t *testing.T) {
			app := app
			app.Build = func(_ testing.TB, p RouterParts) http.Handler { return l.Build(p) }
			RouterConformance(t, app, kit)
		})
	}
}

// RouteCase is a request of [CheckRoutes] and the route its request facts
// must give once it was served ("" for none).
type RouteCase struct {
	Method, Host, Path, Want string
}

// CheckRoutes serves each case's request (its Host when not "") through
// h, a router with its adapter, with request facts put in its context by
// facts as the audit middleware puts them, and checks the route the facts
// give afterwards. facts returns the request with the facts
// (secaudit.ContextWithRequest) and their Route method.
func CheckRoutes(t *testing.T, h http.Handler, facts func(*http.Request) (*http.Request, func() string), cases []RouteCase) {
	t.Helper()
	for _, tt := range cases {
		hr := httptest.NewRequest(tt.Method, tt.Path, nil)
		if tt.Host != "" {
			hr.Host = tt.Host
		}
		hr, route := facts(hr)
		h.ServeHTTP(httptest.NewRecorder(), hr)
		if got := route(); got != tt.Want {
			t.Errorf("%s %s%s: route %q, want %q", tt.Method, tt.Host, tt.Path, got, tt.Want)
		}
	}
}

// RouteWithoutAuditMiddleware checks that an adapter only serves a request
// without request facts (no audit middleware in front): build returns the
// router with the adapter serving h on GET /.
func RouteWithoutAuditMiddleware(t *testing.T, build func(h http.Handler) http.Handler) {
	t.Helper()
	called := false
	h := build(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if !called {
		t.Fatal("handler not called")
	}
}

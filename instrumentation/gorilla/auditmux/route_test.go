package auditmux_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/gorilla/mux"
	"go.opentelemetry.io/otel/log"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/instrumentation"
	"github.com/secaudit/secaudit/instrumentation/gorilla/auditmux"
	"github.com/secaudit/secaudit/internal/testsupport"
)

// kit is the conformance table's kit (testsupport.RouterConformance).
func kit() testsupport.RouterKit {
	return testsupport.RouterKit{
		Audit: func(t testing.TB, lp log.LoggerProvider) (func(http.Handler) http.Handler, func(context.Context)) {
			return audit(t, lp, instrumentation.WithLogOKResponses(true), instrumentation.WithGuard(testsupport.RouterGuard{}))
		},
		SetUser: func(ctx context.Context, id string) { secaudit.SetUser(ctx, secaudit.User{ID: id}) },
	}
}

// audit returns the audit middleware recording through lp with opts,
// without the environment, and a function that emits one model.access
// event through its Auditor.
func audit(t testing.TB, lp log.LoggerProvider, opts ...instrumentation.Option) (func(http.Handler) http.Handler, func(context.Context)) {
	a, err := secaudit.New(secaudit.WithLoggerProvider(lp), secaudit.WithoutEnv())
	if err != nil {
		t.Fatal(err)
	}
	m, err := instrumentation.New(append([]instrumentation.Option{instrumentation.WithAuditor(a), instrumentation.WithoutEnv()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return m.Wrap, func(ctx context.Context) { a.ModelAccessed(ctx, secaudit.Model{Name: "account", ID: "7"}) }
}

// plainAudit is the audit middleware with its defaults (the benchmarks').
func plainAudit(t testing.TB, lp log.LoggerProvider) func(http.Handler) http.Handler {
	wrap, _ := audit(t, lp)
	return wrap
}

// facts puts request facts in r's context, as the audit middleware does.
func facts(r *http.Request) (*http.Request, func() string) {
	req := new(secaudit.Request)
	return r.WithContext(secaudit.ContextWithRequest(r.Context(), req)), req.Route
}

// TestConformance: the router table with gorilla/mux, the authentication
// a middleware of r.Use (which the router runs after it matched, and only
// for a match), routes flat and in a subrouter.
func TestConformance(t *testing.T) {
	testsupport.RouterConformanceLayouts(t, testsupport.RouterApp{
		Route:            "/accounts/{id}",
		RoutedBeforeAuth: true,
		AuthOnUnmatched:  false, // the router runs no middleware without a match
	}, kit(),
		testsupport.RouterLayout{Name: "flat", Build: func(p testsupport.RouterParts) http.Handler {
			r := mux.NewRouter()
			r.Use(auditmux.Route)
			r.Use(p.Auth)
			r.Handle("/accounts/{id}", p.Account).Methods("GET")
			r.Handle("/panic", p.Panic).Methods("GET")
			return r
		}},
		testsupport.RouterLayout{Name: "subrouter", Build: func(p testsupport.RouterParts) http.Handler {
			r := mux.NewRouter()
			r.Use(auditmux.Route, p.Auth)
			r.PathPrefix("/accounts").Subrouter().Handle("/{id}", p.Account).Methods("GET")
			r.Handle("/panic", p.Panic).Methods("GET")
			return r
		}},
	)
}

// TestUnmatchedHaveNoRoute: a subrouter's route has its template with the
// prefix, a regexp variable its template; a request the router does not
// match, a custom NotFoundHandler's and a route without a path template
// have none.
func TestUnmatchedHaveNoRoute(t *testing.T) {
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	r := mux.NewRouter()
	r.Use(auditmux.Route)
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotFound) })
	r.Handle("/accounts/{id:[0-9]+}", ok).Methods("GET")
	r.PathPrefix("/api").Subrouter().Handle("/v1/keys/{key}", ok)
	r.Host("admin.example").Handler(ok)
	testsupport.CheckRoutes(t, r, facts, []testsupport.RouteCase{
		{Method: "GET", Path: "/accounts/7", Want: "/accounts/{id:[0-9]+}"},
		{Method: "GET", Path: "/api/v1/keys/k", Want: "/api/v1/keys/{key}"},
		{Method: "GET", Host: "admin.example", Path: "/anything"},
		{Method: "GET", Path: "/accounts/x"},
		{Method: "DELETE", Path: "/accounts/7"},
		{Method: "GET", Path: "/api/nope"},
	})
}

// TestRouteWithoutAuditMiddleware: without request facts Route only
// serves.
func TestRouteWithoutAuditMiddleware(t *testing.T) {
	testsupport.RouteWithoutAuditMiddleware(t, func(h http.Handler) http.Handler {
		r := mux.NewRouter()
		r.Use(auditmux.Route)
		r.Handle("/", h)
		return r
	})
}

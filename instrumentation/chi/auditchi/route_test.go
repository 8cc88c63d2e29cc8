package auditchi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/otel/log"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/instrumentation"
	"github.com/secaudit/secaudit/instrumentation/chi/auditchi"
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

// TestConformance: the router table with chi, its routes flat and in a
// mounted router, the authentication a middleware of r.Use (which chi
// runs before it matches).
func TestConformance(t *testing.T) {
	testsupport.RouterConformanceLayouts(t, testsupport.RouterApp{
		Route:            "/accounts/{id}",
		RoutedBeforeAuth: true, // looked up in the tree
		AuthOnUnmatched:  true,
	}, kit(),
		testsupport.RouterLayout{Name: "flat", Build: func(p testsupport.RouterParts) http.Handler {
			r := chi.NewRouter()
			r.Use(auditchi.Route)
			r.Use(p.Auth)
			r.Method("GET", "/accounts/{id}", p.Account)
			r.Method("GET", "/panic", p.Panic)
			return r
		}},
		testsupport.RouterLayout{Name: "mounted", Build: func(p testsupport.RouterParts) http.Handler {
			r := chi.NewRouter()
			r.Use(auditchi.Route)
			r.Use(p.Auth)
			r.Route("/accounts", func(r chi.Router) { r.Method("GET", "/{id}", p.Account) })
			r.Method("GET", "/panic", p.Panic)
			return r
		}},
	)
}

// TestRouteOfMountsAndWildcards: a wildcard route and a mounted handler
// have their pattern; a request a mounted router does not match has none,
// although chi leaves the mount's pattern in its route context.
func TestRouteOfMountsAndWildcards(t *testing.T) {
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	r := chi.NewRouter()
	r.Use(auditchi.Route)
	r.Get("/", ok)
	r.Get("/static/*", ok)
	r.Mount("/files", http.StripPrefix("/files", ok))
	r.Route("/api", func(r chi.Router) {
		r.Get("/", ok)
		r.Route("/v1", func(r chi.Router) { r.Get("/accounts/{id}", ok) })
	})
	testsupport.CheckRoutes(t, r, facts, []testsupport.RouteCase{
		{Method: "GET", Path: "/", Want: "/"},
		{Method: "GET", Path: "/static/css/site.css", Want: "/static/*"},
		{Method: "GET", Path: "/files/a/b", Want: "/files/*"},
		{Method: "GET", Path: "/api/", Want: "/api"},
		{Method: "GET", Path: "/api/v1/accounts/7", Want: "/api/v1/accounts/{id}"},
		{Method: "GET", Path: "/api/nope"},
		{Method: "GET", Path: "/api/v1/nope"},
		{Method: "POST", Path: "/api/v1/accounts/7"},
		{Method: "BREW", Path: "/api/v1/accounts/7"},
		{Method: "GET", Path: "/nope"},
	})
}

// TestRouteDuringTheHandler: an event during the handler, and one from a
// middleware of r.Use before chi routed, read the pattern.
func TestRouteDuringTheHandler(t *testing.T) {
	var before, during string
	r := chi.NewRouter()
	r.Use(auditchi.Route)
	r.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			before = secaudit.RequestFromContext(r.Context()).Route()
			next.ServeHTTP(w, r)
		})
	})
	r.Route("/api", func(r chi.Router) {
		r.Get("/accounts/{id}", func(w http.ResponseWriter, r *http.Request) {
			during = secaudit.RequestFromContext(r.Context()).Route()
		})
	})
	hr, _ := facts(httptest.NewRequest("GET", "/api/accounts/7", nil))
	r.ServeHTTP(httptest.NewRecorder(), hr)
	if before != "/api/accounts/{id}" || during != "/api/accounts/{id}" {
		t.Fatalf("route before routing %q, during the handler %q", before, during)
	}
}

// TestRouteWithoutAuditMiddleware: without request facts Route only
// serves.
func TestRouteWithoutAuditMiddleware(t *testing.T) {
	testsupport.RouteWithoutAuditMiddleware(t, func(h http.Handler) http.Handler {
		r := chi.NewRouter()
		r.Use(auditchi.Route)
		r.Method("GET", "/", h)
		return r
	})
}

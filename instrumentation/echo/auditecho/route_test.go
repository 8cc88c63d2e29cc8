package auditecho_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/log"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/instrumentation"
	"github.com/secaudit/secaudit/instrumentation/echo/auditecho"
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

// facts puts request facts in r's context, as the audit middleware does,
// with r's Pattern as their pattern source.
func facts(r *http.Request) (*http.Request, func() string) {
	req := new(secaudit.Request)
	r = r.WithContext(secaudit.ContextWithRequest(r.Context(), req))
	req.SetPatternSource(r) // as the audit middleware does: echo v5 sets Pattern, a 405's too
	return r, req.Route
}

// TestConformance: the router table with echo v4, the authentication a
// middleware of e.Use (which echo runs after it matched, and for requests
// it did not match), routes flat and in a group.
func TestConformance(t *testing.T) {
	testsupport.RouterConformanceLayouts(t, testsupport.RouterApp{
		Route:            "/accounts/:id",
		RoutedBeforeAuth: true,
		AuthOnUnmatched:  true,
	}, kit(),
		testsupport.RouterLayout{Name: "flat", Build: func(p testsupport.RouterParts) http.Handler {
			e := echo.New()
			e.Use(auditecho.Route)
			e.Use(echo.WrapMiddleware(p.Auth))
			e.GET("/accounts/:id", echo.WrapHandler(p.Account))
			e.GET("/panic", echo.WrapHandler(p.Panic))
			return e
		}},
		testsupport.RouterLayout{Name: "group", Build: func(p testsupport.RouterParts) http.Handler {
			e := echo.New()
			e.Use(auditecho.Route, echo.WrapMiddleware(p.Auth))
			e.Group("/accounts").GET("/:id", echo.WrapHandler(p.Account))
			e.GET("/panic", echo.WrapHandler(p.Panic))
			return e
		}},
	)
}

// TestUnmatchedHaveNoRoute: echo gives a request it did not match a path
// of its tree (a 405's route, a RouteNotFound handler's, a node's); none
// of them is a route. A wildcard route, a route of another host and a
// RouteNotFound path that is also a route's are routes.
func TestUnmatchedHaveNoRoute(t *testing.T) {
	ok := func(c echo.Context) error { return c.NoContent(http.StatusOK) }
	e := echo.New()
	e.Use(auditecho.Route)
	e.GET("/accounts/:id", ok)
	e.GET("/accounts/:id/keys/:key", ok)
	e.GET("/static/*", ok)
	e.RouteNotFound("/api/*", func(c echo.Context) error { return c.NoContent(http.StatusNotFound) })
	e.RouteNotFound("/static/*", func(c echo.Context) error { return c.NoContent(http.StatusNotFound) })
	e.Host("admin.example").GET("/users/:id", ok)
	testsupport.CheckRoutes(t, e, facts, []testsupport.RouteCase{
		{Method: "GET", Path: "/accounts/7", Want: "/accounts/:id"},
		{Method: "GET", Path: "/accounts/7/keys/k", Want: "/accounts/:id/keys/:key"},
		{Method: "GET", Path: "/static/css/site.css", Want: "/static/*"},
		{Method: "GET", Host: "admin.example", Path: "/users/7", Want: "/users/:id"},
		{Method: "DELETE", Path: "/accounts/7"},
		{Method: "OPTIONS", Path: "/accounts/7"},
		{Method: "GET", Path: "/accounts/7/keys"},
		{Method: "GET", Path: "/api/nope"},
		{Method: "GET", Path: "/nope"},
	})
}

// TestRouteWithoutAuditMiddleware: without request facts Route only
// calls the next handler.
func TestRouteWithoutAuditMiddleware(t *testing.T) {
	testsupport.RouteWithoutAuditMiddleware(t, func(h http.Handler) http.Handler {
		e := echo.New()
		e.Use(auditecho.Route)
		e.GET("/", echo.WrapHandler(h))
		return e
	})
}

// TestEchosKeepTheirOwnRoutes: two Echos served in turn each answer from
// their own routes: a path that is one's RouteNotFound handler and the
// other's route.
func TestEchosKeepTheirOwnRoutes(t *testing.T) {
	h := func(c echo.Context) error { return c.NoContent(http.StatusOK) }
	notFound, routed := echo.New(), echo.New()
	for _, e := range []*echo.Echo{notFound, routed} {
		e.Use(auditecho.Route)
	}
	notFound.RouteNotFound("/x/*", h)
	routed.GET("/x/*", h)
	for i := range 4 {
		e, want := notFound, ""
		if i%2 == 1 {
			e, want = routed, "/x/*"
		}
		var req secaudit.Request
		hr := httptest.NewRequest("GET", "/x/y", nil)
		e.ServeHTTP(httptest.NewRecorder(), hr.WithContext(secaudit.ContextWithRequest(hr.Context(), &req)))
		if got := req.Route(); got != want {
			t.Errorf("request %d: route %q, want %q", i, got, want)
		}
	}
}

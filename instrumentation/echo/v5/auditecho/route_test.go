package auditecho_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v5"
	"go.opentelemetry.io/otel/log"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/instrumentation"
	"github.com/secaudit/secaudit/instrumentation/echo/v5/auditecho"
	"github.com/secaudit/secaudit/internal/testsupport"
)

// kit is the conformance table's kit (testsupport.RouterConformance).
func kit() testsupport.RouterKit {
	return testsupport.RouterKit{
		Audit: func(t testing.TB, lp log.LoggerProvider) (func(http.Handler) http.Handler, func(context.Context)) {
			a, err := secaudit.New(secaudit.WithLoggerProvider(lp), secaudit.WithoutEnv())
			if err != nil {
				t.Fatal(err)
			}
			m, err := instrumentation.New(instrumentation.WithAuditor(a), instrumentation.WithoutEnv(),
				instrumentation.WithLogOKResponses(true), instrumentation.WithGuard(testsupport.RouterGuard{}))
			if err != nil {
				t.Fatal(err)
			}
			return m.Wrap, func(ctx context.Context) { a.ModelAccessed(ctx, secaudit.Model{Name: "account", ID: "7"}) }
		},
		SetUser: func(ctx context.Context, id string) { secaudit.SetUser(ctx, secaudit.User{ID: id}) },
	}
}

// TestConformance: the router table with echo v5, the authentication a
// middleware of e.Use (which echo runs after it matched, and for requests
// it did not match), routes flat and in a group.
func TestConformance(t *testing.T) {
	for _, tt := range []struct {
		name  string
		build func(p testsupport.RouterParts) http.Handler
	}{
		{"flat", func(p testsupport.RouterParts) http.Handler {
			e := echo.New()
			e.Use(auditecho.Route)
			e.Use(echo.WrapMiddleware(p.Auth))
			e.GET("/accounts/:id", echo.WrapHandler(p.Account))
			e.GET("/panic", echo.WrapHandler(p.Panic))
			return e
		}},
		{"group", func(p testsupport.RouterParts) http.Handler {
			e := echo.New()
			e.Use(auditecho.Route, echo.WrapMiddleware(p.Auth))
			e.Group("/accounts").GET("/:id", echo.WrapHandler(p.Account))
			e.GET("/panic", echo.WrapHandler(p.Panic))
			return e
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			testsupport.RouterConformance(t, testsupport.RouterApp{
				Route:            "/accounts/:id",
				Build:            func(_ testing.TB, p testsupport.RouterParts) http.Handler { return tt.build(p) },
				RoutedBeforeAuth: true,
				AuthOnUnmatched:  true,
			}, kit())
		})
	}
}

// TestUnmatchedHaveNoRoute: echo gives a request it did not match a path
// of its tree (a 405's route, a RouteNotFound handler's, a node's); none
// of them is a route. A wildcard route and a
// RouteNotFound path that is also a route's are routes.
func TestUnmatchedHaveNoRoute(t *testing.T) {
	ok := func(c *echo.Context) error { return c.NoContent(http.StatusOK) }
	e := echo.New()
	e.Use(auditecho.Route)
	e.GET("/accounts/:id", ok)
	e.GET("/accounts/:id/keys/:key", ok)
	e.GET("/static/*", ok)
	e.RouteNotFound("/api/*", func(c *echo.Context) error { return c.NoContent(http.StatusNotFound) })
	e.RouteNotFound("/static/*", func(c *echo.Context) error { return c.NoContent(http.StatusNotFound) })
	tests := []struct{ method, host, path, want string }{
		{"GET", "", "/accounts/7", "/accounts/:id"},
		{"GET", "", "/accounts/7/keys/k", "/accounts/:id/keys/:key"},
		{"GET", "", "/static/css/site.css", "/static/*"},
		{"DELETE", "", "/accounts/7", ""},
		{"OPTIONS", "", "/accounts/7", ""},
		{"GET", "", "/accounts/7/keys", ""},
		{"GET", "", "/api/nope", ""},
		{"GET", "", "/nope", ""},
	}
	for _, tt := range tests {
		var req secaudit.Request
		hr := httptest.NewRequest(tt.method, tt.path, nil)
		if tt.host != "" {
			hr.Host = tt.host
		}
		hr = hr.WithContext(secaudit.ContextWithRequest(hr.Context(), &req))
		req.SetPatternSource(hr) // as the audit middleware does: echo v5 sets Pattern, a 405's too
		e.ServeHTTP(httptest.NewRecorder(), hr)
		if got := req.Route(); got != tt.want {
			t.Errorf("%s %s%s: route %q, want %q", tt.method, tt.host, tt.path, got, tt.want)
		}
	}
}

// TestRouteWithoutAuditMiddleware: without request facts Route only
// calls the next handler.
func TestRouteWithoutAuditMiddleware(t *testing.T) {
	called := false
	e := echo.New()
	e.Use(auditecho.Route)
	e.GET("/", func(*echo.Context) error { called = true; return nil })
	e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if !called {
		t.Fatal("handler not called")
	}
}

// TestEchosKeepTheirOwnRoutes: two Echos served in turn each answer from
// their own routes: a path that is one's RouteNotFound handler and the
// other's route.
func TestEchosKeepTheirOwnRoutes(t *testing.T) {
	h := func(c *echo.Context) error { return c.NoContent(http.StatusOK) }
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

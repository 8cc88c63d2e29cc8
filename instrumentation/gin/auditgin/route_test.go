package auditgin_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/log"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/instrumentation"
	"github.com/secaudit/secaudit/instrumentation/gin/auditgin"
	"github.com/secaudit/secaudit/internal/testsupport"
)

func init() { gin.SetMode(gin.ReleaseMode) }

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

// ginMiddleware runs a net/http middleware as gin middleware: the chain
// goes on with the request the middleware passed on, or stops when it
// answered.
func ginMiddleware(mw func(http.Handler) http.Handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		passed := false
		mw(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			passed = true
			c.Request = r
			c.Next()
		})).ServeHTTP(c.Writer, c.Request)
		if !passed {
			c.Abort()
		}
	}
}

// TestConformance: the router table with gin, the authentication a
// middleware of the engine (which gin runs after it matched, and for its
// NoRoute and NoMethod handlers), routes flat and in a group.
func TestConformance(t *testing.T) {
	for _, tt := range []struct {
		name  string
		build func(p testsupport.RouterParts) http.Handler
	}{
		{"flat", func(p testsupport.RouterParts) http.Handler {
			r := gin.New()
			r.HandleMethodNotAllowed = true
			r.Use(auditgin.Route)
			r.Use(ginMiddleware(p.Auth))
			r.GET("/accounts/:id", gin.WrapH(p.Account))
			r.GET("/panic", gin.WrapH(p.Panic))
			return r
		}},
		{"group", func(p testsupport.RouterParts) http.Handler {
			r := gin.New()
			r.HandleMethodNotAllowed = true
			r.Use(auditgin.Route, ginMiddleware(p.Auth))
			r.Group("/accounts").GET("/:id", gin.WrapH(p.Account))
			r.GET("/panic", gin.WrapH(p.Panic))
			return r
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

// TestUnmatchedHaveNoRoute: gin's NoRoute and NoMethod handlers, a
// trailing-slash redirect and a method gin answers 404 (without
// HandleMethodNotAllowed) have no route; a wildcard route has its path.
func TestUnmatchedHaveNoRoute(t *testing.T) {
	r := gin.New()
	r.Use(auditgin.Route)
	r.NoRoute(func(c *gin.Context) { c.String(http.StatusNotFound, "custom") })
	r.GET("/accounts/:id", func(c *gin.Context) {})
	r.GET("/static/*file", func(c *gin.Context) {})
	tests := []struct{ method, path, want string }{
		{"GET", "/accounts/7", "/accounts/:id"},
		{"GET", "/static/css/site.css", "/static/*file"},
		{"GET", "/accounts/7/", ""},
		{"GET", "/nope", ""},
		{"POST", "/accounts/7", ""},
	}
	for _, tt := range tests {
		var req secaudit.Request
		hr := httptest.NewRequest(tt.method, tt.path, nil)
		r.ServeHTTP(httptest.NewRecorder(), hr.WithContext(secaudit.ContextWithRequest(hr.Context(), &req)))
		if got := req.Route(); got != tt.want {
			t.Errorf("%s %s: route %q, want %q", tt.method, tt.path, got, tt.want)
		}
	}
}

// TestRouteWithoutAuditMiddleware: without request facts Route only
// lets the chain go on.
func TestRouteWithoutAuditMiddleware(t *testing.T) {
	called := false
	r := gin.New()
	r.Use(auditgin.Route)
	r.GET("/", func(*gin.Context) { called = true })
	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if !called {
		t.Fatal("handler not called")
	}
}

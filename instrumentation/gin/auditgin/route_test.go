package auditgin_test

import (
	"context"
	"net/http"
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
	testsupport.RouterConformanceLayouts(t, testsupport.RouterApp{
		Route:            "/accounts/:id",
		RoutedBeforeAuth: true,
		AuthOnUnmatched:  true,
	}, kit(),
		testsupport.RouterLayout{Name: "flat", Build: func(p testsupport.RouterParts) http.Handler {
			r := gin.New()
			r.HandleMethodNotAllowed = true
			r.Use(auditgin.Route)
			r.Use(ginMiddleware(p.Auth))
			r.GET("/accounts/:id", gin.WrapH(p.Account))
			r.GET("/panic", gin.WrapH(p.Panic))
			return r
		}},
		testsupport.RouterLayout{Name: "group", Build: func(p testsupport.RouterParts) http.Handler {
			r := gin.New()
			r.HandleMethodNotAllowed = true
			r.Use(auditgin.Route, ginMiddleware(p.Auth))
			r.Group("/accounts").GET("/:id", gin.WrapH(p.Account))
			r.GET("/panic", gin.WrapH(p.Panic))
			return r
		}},
	)
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
	testsupport.CheckRoutes(t, r, facts, []testsupport.RouteCase{
		{Method: "GET", Path: "/accounts/7", Want: "/accounts/:id"},
		{Method: "GET", Path: "/static/css/site.css", Want: "/static/*file"},
		{Method: "GET", Path: "/accounts/7/"},
		{Method: "GET", Path: "/nope"},
		{Method: "POST", Path: "/accounts/7"},
	})
}

// TestRouteWithoutAuditMiddleware: without request facts Route only
// lets the chain go on.
func TestRouteWithoutAuditMiddleware(t *testing.T) {
	testsupport.RouteWithoutAuditMiddleware(t, func(h http.Handler) http.Handler {
		r := gin.New()
		r.Use(auditgin.Route)
		r.GET("/", gin.WrapH(h))
		return r
	})
}

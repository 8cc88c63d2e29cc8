package instrumentation

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/log"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
)

// routerKit is the conformance table's kit (testsupport.RouterConformance).
func routerKit() testsupport.RouterKit {
	return testsupport.RouterKit{
		Audit: func(t testing.TB, lp log.LoggerProvider) (func(http.Handler) http.Handler, func(context.Context)) {
			a, err := secaudit.New(secaudit.WithLoggerProvider(lp), secaudit.WithoutEnv())
			if err != nil {
				t.Fatal(err)
			}
			m, err := New(WithAuditor(a), WithoutEnv(), WithLogOKResponses(true), WithGuard(testsupport.RouterGuard{}))
			if err != nil {
				t.Fatal(err)
			}
			return m.Wrap, func(ctx context.Context) { a.ModelAccessed(ctx, secaudit.Model{Name: "account", ID: "7"}) }
		},
		SetUser: func(ctx context.Context, id string) { secaudit.SetUser(ctx, secaudit.User{ID: id}) },
	}
}

// TestServeMuxConformance: the audit middleware outermost, an
// authentication middleware that passes a copy of the request on, then
// the ServeMux wrapped in Route: every outcome of the router table with
// the mux's pattern on every event of a routed request.
func TestServeMuxConformance(t *testing.T) {
	testsupport.RouterConformance(t, testsupport.RouterApp{
		Route: "/accounts/{id}",
		Build: func(_ testing.TB, p testsupport.RouterParts) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("GET /accounts/{id}", p.Account)
			mux.Handle("GET /panic", p.Panic)
			return p.Auth(Route(mux))
		},
		RoutedBeforeAuth: false, // the authentication is in front of the mux
		AuthOnUnmatched:  true,
	}, routerKit())
}

type copyKey struct{}

// TestRouteBehindCopyingMiddleware: a middleware between the audit
// middleware and the ServeMux that passes a copy of the request on hid
// the mux's pattern from every event (the pattern source was the audit
// middleware's own request); Route gives it back, during the handler and
// on the response event.
func TestRouteBehindCopyingMiddleware(t *testing.T) {
	copying := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), copyKey{}, 1)))
		})
	}
	for _, tt := range []struct {
		name  string
		route func(http.Handler) http.Handler
		want  string
	}{
		{"without Route", func(h http.Handler) http.Handler { return h }, ""},
		{"with Route", Route, "/accounts/{id}"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, false)
			var during string
			mux := http.NewServeMux()
			mux.HandleFunc("GET /accounts/{id}", func(w http.ResponseWriter, r *http.Request) {
				during = secaudit.RequestFromContext(r.Context()).Route()
				w.WriteHeader(http.StatusForbidden)
			})
			h.serve(copying(tt.route(mux)), httptest.NewRequest("GET", "/accounts/7", nil))
			rec := h.only()
			if got := attrsOf(rec)[semconv.HTTPRouteKey].AsString(); got != tt.want || during != tt.want {
				t.Fatalf("http.route %q, during the handler %q; want %q", got, during, tt.want)
			}
		})
	}
}

// TestRouteWithoutAuditMiddleware: Route only calls next when no audit
// middleware is in front.
func TestRouteWithoutAuditMiddleware(t *testing.T) {
	called := false
	Route(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true })).
		ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if !called {
		t.Fatal("next not called")
	}
}

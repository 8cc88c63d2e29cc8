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

// TestConformance: the router table with chi, its routes flat and in a
// mounted router, the authentication a middleware of r.Use (which chi
// runs before it matches).
func TestConformance(t *testing.T) {
	for _, tt := range []struct {
		name  string
		build func(p testsupport.RouterParts) http.Handler
	}{
		{"flat", func(p testsupport.RouterParts) http.Handler {
			r := chi.NewRouter()
			r.Use(auditchi.Route)
			r.Use(p.Auth)
			r.Method("GET", "/accounts/{id}", p.Account)
			r.Method("GET", "/panic", p.Panic)
			return r
		}},
		{"mounted", func(p testsupport.RouterParts) http.Handler {
			r := chi.NewRouter()
			r.Use(auditchi.Route)
			r.Use(p.Auth)
			r.Route("/accounts", func(r chi.Router) { r.Method("GET", "/{id}", p.Account) })
			r.Method("GET", "/panic", p.Panic)
			return r
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			testsupport.RouterConformance(t, testsupport.RouterApp{
				Route:            "/accounts/{id}",
				Build:            func(_ testing.TB, p testsupport.RouterParts) http.Handler { return tt.build(p) },
				RoutedBeforeAuth: true, // looked up in the tree
				AuthOnUnmatched:  true,
			}, kit())
		})
	}
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
	tests := []struct{ method, path, want string }{
		{"GET", "/", "/"},
		{"GET", "/static/css/site.css", "/static/*"},
		{"GET", "/files/a/b", "/files/*"},
		{"GET", "/api/", "/api"},
		{"GET", "/api/v1/accounts/7", "/api/v1/accounts/{id}"},
		{"GET", "/api/nope", ""},
		{"GET", "/api/v1/nope", ""},
		{"POST", "/api/v1/accounts/7", ""},
		{"BREW", "/api/v1/accounts/7", ""},
		{"GET", "/nope", ""},
	}
	for _, tt := range tests {
		var req secaudit.Request
		hr := httptest.NewRequest(tt.method, tt.path, nil)
		hr = hr.WithContext(secaudit.ContextWithRequest(hr.Context(), &req))
		r.ServeHTTP(httptest.NewRecorder(), hr)
		if got := req.Route(); got != tt.want {
			t.Errorf("%s %s: route %q, want %q", tt.method, tt.path, got, tt.want)
		}
	}
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
	var req secaudit.Request
	hr := httptest.NewRequest("GET", "/api/accounts/7", nil)
	r.ServeHTTP(httptest.NewRecorder(), hr.WithContext(secaudit.ContextWithRequest(hr.Context(), &req)))
	if before != "/api/accounts/{id}" || during != "/api/accounts/{id}" {
		t.Fatalf("route before routing %q, during the handler %q", before, during)
	}
}

// TestRouteWithoutAuditMiddleware: without request facts Route only
// serves.
func TestRouteWithoutAuditMiddleware(t *testing.T) {
	called := false
	r := chi.NewRouter()
	r.Use(auditchi.Route)
	r.Get("/", func(http.ResponseWriter, *http.Request) { called = true })
	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if !called {
		t.Fatal("handler not called")
	}
}

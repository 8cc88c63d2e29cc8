package auditmux_test

import (
	"context"
	"net/http"
	"net/http/httptest"
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

// TestConformance: the router table with gorilla/mux, the authentication
// a middleware of r.Use (which the router runs after it matched, and only
// for a match), routes flat and in a subrouter.
func TestConformance(t *testing.T) {
	for _, tt := range []struct {
		name  string
		build func(p testsupport.RouterParts) http.Handler
	}{
		{"flat", func(p testsupport.RouterParts) http.Handler {
			r := mux.NewRouter()
			r.Use(auditmux.Route)
			r.Use(p.Auth)
			r.Handle("/accounts/{id}", p.Account).Methods("GET")
			r.Handle("/panic", p.Panic).Methods("GET")
			return r
		}},
		{"subrouter", func(p testsupport.RouterParts) http.Handler {
			r := mux.NewRouter()
			r.Use(auditmux.Route, p.Auth)
			r.PathPrefix("/accounts").Subrouter().Handle("/{id}", p.Account).Methods("GET")
			r.Handle("/panic", p.Panic).Methods("GET")
			return r
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			testsupport.RouterConformance(t, testsupport.RouterApp{
				Route:            "/accounts/{id}",
				Build:            func(_ testing.TB, p testsupport.RouterParts) http.Handler { return tt.build(p) },
				RoutedBeforeAuth: true,
				AuthOnUnmatched:  false, // the router runs no middleware without a match
			}, kit())
		})
	}
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
	tests := []struct{ method, host, path, want string }{
		{"GET", "", "/accounts/7", "/accounts/{id:[0-9]+}"},
		{"GET", "", "/api/v1/keys/k", "/api/v1/keys/{key}"},
		{"GET", "admin.example", "/anything", ""},
		{"GET", "", "/accounts/x", ""},
		{"DELETE", "", "/accounts/7", ""},
		{"GET", "", "/api/nope", ""},
	}
	for _, tt := range tests {
		var req secaudit.Request
		hr := httptest.NewRequest(tt.method, tt.path, nil)
		if tt.host != "" {
			hr.Host = tt.host
		}
		r.ServeHTTP(httptest.NewRecorder(), hr.WithContext(secaudit.ContextWithRequest(hr.Context(), &req)))
		if got := req.Route(); got != tt.want {
			t.Errorf("%s %s%s: route %q, want %q", tt.method, tt.host, tt.path, got, tt.want)
		}
	}
}

// TestRouteWithoutAuditMiddleware: without request facts Route only
// serves.
func TestRouteWithoutAuditMiddleware(t *testing.T) {
	called := false
	r := mux.NewRouter()
	r.Use(auditmux.Route)
	r.HandleFunc("/", func(http.ResponseWriter, *http.Request) { called = true })
	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if !called {
		t.Fatal("handler not called")
	}
}

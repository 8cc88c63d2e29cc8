package instrumentation_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/log/logtest"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/instrumentation"
	"github.com/secaudit/secaudit/semconv"
)

// The middleware goes inside otelhttp, so events carry the server span. The
// application names the user with secaudit.SetUser, here in the handler.
func Example() {
	provider := logtest.NewRecorder() // an sdk/log LoggerProvider in production
	auditor, err := secaudit.New(secaudit.WithLoggerProvider(provider))
	if err != nil {
		panic(err)
	}
	audit, err := instrumentation.New(
		instrumentation.WithAuditor(auditor),
		instrumentation.WithIgnorePaths(`^/healthz$`),
		instrumentation.WithTrustedProxies([]string{"10.0.0.0/8"}, 1),
	)
	if err != nil {
		panic(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/accounts/{id}", func(w http.ResponseWriter, r *http.Request) {
		secaudit.SetUser(r.Context(), secaudit.User{ID: "2"})
		auditor.AuthzDenied(r.Context(), secaudit.Model{Name: "account", ID: r.PathValue("id")}, "not_owner")
		http.Error(w, "forbidden", http.StatusForbidden)
	})
	handler := otelhttp.NewHandler(audit.Wrap(mux), "server")

	req := httptest.NewRequest("GET", "/api/accounts/1", nil)
	req.RemoteAddr = "10.0.0.5:4711"
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	handler.ServeHTTP(httptest.NewRecorder(), req)

	for _, records := range provider.Result() {
		for _, r := range records {
			attrs := map[string]string{}
			for _, kv := range r.Attributes {
				attrs[string(kv.Key)] = kv.Value.String()
			}
			fmt.Println(r.EventName, attrs[string(semconv.HTTPRouteKey)],
				attrs[string(semconv.ClientAddressKey)], attrs[string(semconv.UserIDKey)])
		}
	}
	// Output:
	// authz.denied /api/accounts/{id} 203.0.113.7 2
	// http.response.client_error /api/accounts/{id} 203.0.113.7 2
}

// The audit middleware outermost, an authentication middleware that
// passes a copy of the request on, then the ServeMux wrapped in Route:
// the event still carries the mux's pattern and the user authentication
// named.
func ExampleRoute() {
	provider := logtest.NewRecorder()
	auditor, err := secaudit.New(secaudit.WithLoggerProvider(provider), secaudit.WithoutEnv())
	if err != nil {
		panic(err)
	}
	audit, err := instrumentation.New(instrumentation.WithAuditor(auditor), instrumentation.WithoutEnv())
	if err != nil {
		panic(err)
	}
	type tokenKey struct{}
	authenticate := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			secaudit.SetUser(r.Context(), secaudit.User{ID: "2"})
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tokenKey{}, "…")))
		})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/accounts/{id}", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "forbidden", http.StatusForbidden)
	})
	handler := audit.Wrap(authenticate(instrumentation.Route(mux))) // inside otelhttp in a service

	handler.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/accounts/1", nil))
	for _, records := range provider.Result() {
		for _, r := range records {
			attrs := map[string]string{}
			for _, kv := range r.Attributes {
				attrs[string(kv.Key)] = kv.Value.String()
			}
			fmt.Println(r.EventName, attrs[string(semconv.HTTPRouteKey)], attrs[string(semconv.UserIDKey)])
		}
	}
	// Output: http.response.client_error /api/accounts/{id} 2
}

package auditmux_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/gorilla/mux"
	"go.opentelemetry.io/otel/log/logtest"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/instrumentation"
	"github.com/secaudit/secaudit/instrumentation/gorilla/auditmux"
)

// The audit middleware around the router, auditmux.Route its first
// middleware: the event of a request carries the route's path template.
func Example() {
	rec := logtest.NewRecorder() // a service passes its LoggerProvider (setup.New builds one)
	auditor, err := secaudit.New(secaudit.WithLoggerProvider(rec), secaudit.WithoutEnv())
	if err != nil {
		panic(err)
	}
	audit, err := instrumentation.New(instrumentation.WithAuditor(auditor), instrumentation.WithoutEnv())
	if err != nil {
		panic(err)
	}

	r := mux.NewRouter()
	r.Use(auditmux.Route)
	r.HandleFunc("/accounts/{id}", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "forbidden", http.StatusForbidden)
	}).Methods("GET")
	handler := audit.Wrap(r) // in a service: otelhttp.NewHandler(audit.Wrap(r), "server")

	handler.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/accounts/7", nil))
	for _, records := range rec.Result() {
		for _, e := range records {
			for _, kv := range e.Attributes {
				if kv.Key == "http.route" {
					fmt.Println(e.EventName, kv.Value.AsString())
				}
			}
		}
	}
	// Output: http.response.client_error /accounts/{id}
}

package auditecho_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/labstack/echo/v5"
	"go.opentelemetry.io/otel/log/logtest"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/instrumentation"
	"github.com/secaudit/secaudit/instrumentation/echo/v5/auditecho"
)

// The audit middleware around the Echo, auditecho.Route its first
// middleware: the event of a request carries echo's route path.
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

	e := echo.New()
	e.Use(auditecho.Route)
	e.GET("/accounts/:id", func(c *echo.Context) error { return c.String(http.StatusForbidden, "forbidden") })
	handler := audit.Wrap(e) // in a service: otelhttp.NewHandler(audit.Wrap(e), "server")

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
	// Output: http.response.client_error /accounts/:id
}

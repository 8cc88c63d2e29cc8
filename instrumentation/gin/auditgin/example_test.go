package auditgin_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/log/logtest"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/instrumentation"
	"github.com/secaudit/secaudit/instrumentation/gin/auditgin"
)

// The audit middleware around the engine, auditgin.Route its first
// middleware: the event of a request carries gin's full path.
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

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(auditgin.Route)
	r.GET("/accounts/:id", func(c *gin.Context) { c.String(http.StatusForbidden, "forbidden") })
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
	// Output: http.response.client_error /accounts/:id
}

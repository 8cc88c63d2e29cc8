package setup_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"go.opentelemetry.io/contrib/bridges/otelslog"

	"github.com/secaudit/secaudit/setup"
)

// Application logs through the pipeline: a slog.Logger from the otelslog
// bridge on the pipeline's LoggerProvider. Its records are scrubbed and
// exported beside the audit events.
func ExamplePipeline_LoggerProvider() {
	var out bytes.Buffer
	p, err := setup.New(context.Background(),
		setup.WithServiceName("shop"),
		setup.WithExporters(setup.ExporterJSONL),
		setup.WithJSONLWriter(&out),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	logger := otelslog.NewLogger("shop/payments", otelslog.WithLoggerProvider(p.LoggerProvider()))
	logger.Info("charge declined", "customer", "42", "db_password", "hunter2")
	if err := p.Shutdown(context.Background()); err != nil {
		fmt.Println(err)
		return
	}

	var line struct {
		Body       string         `json:"body"`
		Attributes map[string]any `json:"attributes"`
		Scope      struct {
			Name string `json:"name"`
		} `json:"instrumentation_scope"`
	}
	if err := json.Unmarshal(out.Bytes(), &line); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(line.Scope.Name, "|", line.Body, "|", line.Attributes["customer"], line.Attributes["db_password"])
	// Output: shop/payments | charge declined | 42 [REDACTED]
}

package delivery_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/secaudit/secaudit/delivery"
	"github.com/secaudit/secaudit/exporter"
	"github.com/secaudit/secaudit/semconv"
)

// A JSONL exporter behind the delivery processor: events leave the request
// path at once and are written by the processor's worker; Shutdown writes
// whatever is pending.
func Example() {
	exp, err := exporter.NewJSONL(exporter.WithWriter(os.Stdout))
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := delivery.New(exp, delivery.WithName("jsonl"), delivery.WithoutEnv())
	if err != nil {
		fmt.Println(err)
		return
	}
	provider := sdklog.NewLoggerProvider(
		sdklog.WithResource(resource.NewSchemaless(semconv.ServiceNameKey.String("shop"))),
		sdklog.WithProcessor(p),
	)

	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) // fixed for the example's output
	var rec log.Record
	rec.SetEventName(semconv.EventLoginFailed)
	rec.SetTimestamp(at)
	rec.SetObservedTimestamp(at)
	rec.SetSeverity(semconv.SeverityWarning)
	rec.SetBody(attribute.StringValue(semconv.EventLoginFailed))
	rec.AddAttributes(semconv.ClientAddressKey.String("203.0.113.7"))
	provider.Logger("example").Emit(context.Background(), rec)

	if err := provider.Shutdown(context.Background()); err != nil {
		fmt.Println(err)
	}
	st := p.Stats()
	fmt.Printf("emitted %d, exported %d, dropped %d\n", st.Emitted, st.Exported, st.Dropped)
	// Output:
	// {"timestamp":1767323045000000000,"observed_timestamp":1767323045000000000,"severity_text":"WARNING","severity_number":13,"body":"auth.login.failed","resource":{"service.name":"shop"},"instrumentation_scope":{"name":"example"},"attributes":{"event_type":"auth.login.failed","schema_version":"1.0","client.address":"203.0.113.7"},"event_name":"auth.login.failed"}
	// emitted 1, exported 1, dropped 0
}

// A fail-closed route: the handler runs only when the audit pipeline can
// record its events; otherwise the client gets 503, as from a Vault server
// whose audit devices fail. Other routes are not gated. Here the pipeline
// is healthy, then shut down.
func ExampleProcessor_Admit() {
	exp, err := exporter.NewJSONL(exporter.WithFile(os.DevNull))
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := delivery.New(exp, delivery.WithStrictEvents("model.*", "authz.*"), delivery.WithoutEnv())
	if err != nil {
		fmt.Println(err)
		return
	}

	failClosed := func(gate delivery.Gate, next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := gate.Admit(r.Context()); err != nil {
				http.Error(w, "audit unavailable", http.StatusServiceUnavailable)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	mux := http.NewServeMux()
	mux.Handle("POST /admin/users", failClosed(p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})))
	mux.Handle("GET /healthz/audit", delivery.HealthHandler(p))

	createUser := func() int {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/admin/users", nil))
		return w.Code
	}
	fmt.Println("pipeline up:", createUser())
	if err := p.Shutdown(context.Background()); err != nil {
		fmt.Println(err)
	}
	fmt.Println("pipeline shut down:", createUser())
	// Output:
	// pipeline up: 204
	// pipeline shut down: 503
}

// downExporter stands for an OTLP exporter whose Collector is gone for
// good.
type downExporter struct{}

func (downExporter) Export(context.Context, []sdklog.Record) error { return sdklog.ErrExporterShutdown }
func (downExporter) Shutdown(context.Context) error                { return nil }
func (downExporter) ForceFlush(context.Context) error              { return nil }

// A spill file behind an exporter that cannot deliver: the records it
// refuses are written to <dir>/otlp.spill.jsonl instead of being lost,
// counted as spilled by the reason they would have been dropped for, and
// can be sent on later with tools/spillreplay.
func ExampleWithSpillDir() {
	dir, err := os.MkdirTemp("", "spill")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	p, err := delivery.New(downExporter{}, delivery.WithName("otlp"), delivery.WithSpillDir(dir), delivery.WithoutEnv())
	if err != nil {
		fmt.Println(err)
		return
	}
	provider := sdklog.NewLoggerProvider(sdklog.WithProcessor(p))
	for range 3 {
		var rec log.Record
		rec.SetEventName(semconv.EventLoginFailed)
		provider.Logger("example").Emit(context.Background(), rec)
	}
	if err := provider.Shutdown(context.Background()); err != nil {
		fmt.Println(err)
	}
	st := p.Stats()
	fmt.Printf("emitted %d, exported %d, spilled %d (%s), dropped %d\n",
		st.Emitted, st.Exported, st.Spilled, st.Spills[0].Reason, st.Dropped)
	data, _ := os.ReadFile(filepath.Join(dir, "otlp.spill.jsonl"))
	fmt.Println(bytes.Count(data, []byte("\n")), "lines in otlp.spill.jsonl")
	// Output:
	// emitted 3, exported 0, spilled 3 (export_failed), dropped 0
	// 3 lines in otlp.spill.jsonl
}

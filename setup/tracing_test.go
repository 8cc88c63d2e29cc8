package setup_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/instrumentation"
	"github.com/secaudit/secaudit/setup"
)

// restoreTracingGlobals puts no-op tracing globals back after a test that
// installed WithTracing's.
func restoreTracingGlobals(t *testing.T) {
	t.Cleanup(func() {
		otel.SetTracerProvider(tracenoop.NewTracerProvider())
		otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator())
	})
}

// TestTracingInTheREADMEWiring wires a service as the README does — setup,
// the audit middleware inside otelhttp, an Auditor call in a handler — with
// no TracerProvider of its own: an incoming traceparent reaches every event.
func TestTracingInTheREADMEWiring(t *testing.T) {
	clearEnv(t)
	restoreTracingGlobals(t)
	path := filepath.Join(t.TempDir(), "events.jsonl")
	ctx := context.Background()
	pipeline, err := setup.New(ctx, setup.WithServiceName("shop"), setup.WithJSONLPath(path), setup.WithTracing())
	if err != nil {
		t.Fatal(err)
	}
	if pipeline.TracerProvider() == nil {
		t.Fatal("WithTracing: no TracerProvider")
	}
	audit, err := instrumentation.New(instrumentation.WithAuditor(pipeline.Auditor()))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		pipeline.Auditor().LoginFailed(r.Context(), secaudit.User{Name: "mallory"}, "bad_password")
		w.WriteHeader(http.StatusUnauthorized)
	})
	srv := httptest.NewServer(otelhttp.NewHandler(audit.Wrap(mux), "shop"))
	defer srv.Close()

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/login", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pipeline.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Buffer(nil, 1<<20); sc.Scan(); {
		var line struct {
			EventName string `json:"event_name"`
			TraceID   string `json:"trace_id"`
			SpanID    string `json:"span_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		names[line.EventName] = true
		if line.TraceID != traceID || len(line.SpanID) != 16 || line.SpanID == "00f067aa0ba902b7" {
			t.Errorf("%s: trace_id %q span_id %q, want the caller's trace %s and the server span", line.EventName, line.TraceID, line.SpanID, traceID)
		}
	}
	if !names["auth.login.failed"] || !names["http.response.client_error"] || len(names) != 2 {
		t.Errorf("events %v, want auth.login.failed and http.response.client_error", names)
	}
}

func TestTracingExporterFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr bool
	}{
		{name: "default, jsonl logs", env: nil},
		{name: "none", env: map[string]string{"OTEL_TRACES_EXPORTER": "none"}},
		{name: "unsupported", env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			restoreTracingGlobals(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			p, err := setup.New(context.Background(), setup.WithExporters("none"), setup.WithTracing())
			if tt.wantErr {
				if err == nil {
					_ = p.Shutdown(context.Background())
					t.Fatal("no error")
				}
				if want := "OTEL_TRACES_EXPORTER"; !strings.Contains(err.Error(), want) {
					t.Fatalf("error %q does not name %s", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			_ = p.Shutdown(context.Background())
		})
	}
}
